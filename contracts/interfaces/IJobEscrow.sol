// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IAccuracyChecks} from "./IAccuracyChecks.sol";
import {IPullPayments} from "./IPullPayments.sol";
import {INodeRegistry} from "./INodeRegistry.sol";

/// @title Escrowed training jobs: staged Proof of Training and a zk accuracy proof
/// @notice Lifecycle: `Training` (stages 1..t, each agreed by hidden declarations opened in a
/// reveal phase) → `AwaitingTestSet` (last stage final; the employer posts the committed test
/// set) → `Proving` (accuracy proofs per shard) → `Completed` (bounty to the last stage's
/// paid nodes) or `Failed` (below the threshold). `Forfeited`: the test set was not posted in
/// time (bounty to the last stage's paid nodes). `Reclaimed`: the employer took back what was
/// not earned after a deadline. Money only moves by credit + `withdraw`.
/// Escrow balance = Σ job remaining + Σ job owed + Σ credits.
///
/// A stage runs in attempts. Each attempt has a commit phase, open until `2C − 1`
/// declarations are in or `commitWindow` has passed, during which a declaration is one hash
/// that binds (ρ, H(S), h_W, rand, node) and shows nothing a copier could use; then a reveal
/// phase of `revealWindow`, in which each declarer opens its own declaration. The first
/// (ρ, H(S), h_W, CID) opened by C declarers finalises the stage; only one can reach C among
/// 2C − 1 declarations. The C nodes that opened it first are paid `reward` each; every
/// declaration of the attempt that is not opened, or opened to other values, is slashed. An
/// attempt that ends without C agreeing openings fails and the next attempt trains the stage
/// in another order (so nothing opened in a failed attempt is worth copying). Assumes fewer
/// than C fabricating identities per stage (docs/pot.md, "Stage agreement").
interface IJobEscrow is IPullPayments, IAccuracyChecks {
    enum JobStatus {
        None,
        Training,
        AwaitingTestSet,
        Proving,
        Completed,
        Failed,
        Forfeited,
        Reclaimed
    }

    /// @notice Phase of the open stage's current attempt.
    enum StagePhase {
        None, // no stage open (the job is not training)
        Commit,
        Reveal,
        Ended // the attempt ended without agreement: the next declaration starts a new one
    }

    /// @notice What `createJob` takes. `msg.value` must be stages*confirmations*reward + bounty.
    struct JobParams {
        bytes32 manifestHash;
        string manifestCid;
        uint256 stages; // t, 1..MAX_STAGES
        uint256 confirmations; // C, 1..MAX_CONFIRMATIONS: agreeing openings that finalise a stage
        uint256 reward; // per paid declaration (C per stage)
        uint256 bounty; // for the accuracy certificate, split between the last stage's paid nodes
        uint256 threshold; // correct predictions required, summed over all shards
        uint256 samples; // N, total test samples over all shards
        bytes32[] shardCommitments; // c_T of each proof shard of the test set (distinct)
        bytes32[] shardDataHashes; // keccak256 of each shard's canonical bytes, posted later
        address verifier; // an IAccuracyVerifier
        uint256 deadline; // unix time: stages must be final before it
        uint256 commitWindow; // seconds of an attempt's commit phase
        uint256 revealWindow; // seconds of an attempt's reveal phase
        uint256 testSetWindow; // seconds after the last stage for the employer to post the test set
        uint256 proofWindow; // seconds after the test set for the accuracy proofs
    }

    /// @notice What a declarer opens in the reveal phase.
    struct Opening {
        bytes32 rho; // the training secret
        bytes32 weightsHash; // H(S): keccak256 of the canonical weights of the stage's result
        uint256 modelCommitment; // h_W of the certified final model (0 for other stages)
        bytes32 rand; // the declarer's blinding value
        string cid; // content ID of the stage's weights
    }

    /// @notice Read-only state of one job.
    struct JobView {
        address employer;
        JobStatus status;
        bytes32 manifestHash;
        uint256 stages;
        uint256 stagesDone;
        uint256 confirmations;
        uint256 reward;
        uint256 bounty;
        uint256 remaining; // escrow still held for this job and not yet earned
        uint256 owed; // earned (rewards of final stages, the bounty once due), not yet settled
        uint256 threshold;
        uint256 samples;
        uint256 shardCount;
        uint256 shardsPublished;
        uint256 shardsProven;
        uint256 correctCount; // summed over proven shards
        address verifier;
        uint256 deadline;
        uint256 commitWindow;
        uint256 revealWindow;
        uint256 testSetWindow;
        uint256 proofWindow;
        uint256 phaseDeadline; // test-set deadline (AwaitingTestSet) or proof deadline (Proving)
        uint256 finalModelCommitment;
    }

    /// @notice The open stage's current attempt.
    struct AttemptView {
        uint256 stage; // the open stage (0 when none)
        uint256 attempt; // 0, 1, …
        StagePhase phase;
        uint256 declarations; // made in this attempt
        uint256 maxDeclarations; // 2C − 1: the commit phase closes when they are in
        uint256 start;
        uint256 commitDeadline; // when the commit phase closes(d)
        uint256 revealDeadline; // when the reveal phase ends
        uint256 leadOpenings; // openings of the first opened values
    }

    /// @notice A node's latest declaration in a job.
    struct DeclarationView {
        uint256 stage; // 0: none
        uint256 attempt;
        bytes24 hash; // the declaration (commitment) before opening, the opened values' key after
        uint256 position; // 0: not opened; else its rank among the openings of the same values
        bool settled;
        bool bountySettled;
    }

    /// @notice A final stage: the attempt that finalised it, its key and reveal deadline.
    struct StageResult {
        uint256 attempt;
        bytes24 key; // openingKey of the agreed values, truncated
        uint256 revealDeadline; // late openings of that attempt are taken until then
    }

    /// @notice Why a declaration was slashed.
    enum SlashReason {
        Unopened, // not opened in its attempt's reveal phase
        Outvoted // opened to values other than the stage's agreed ones
    }

    /// @notice A job was escrowed.
    event JobCreated(
        uint256 indexed jobId,
        address indexed employer,
        bytes32 manifestHash,
        string manifestCid,
        uint256 stages,
        uint256 confirmations,
        uint256 reward,
        uint256 bounty,
        uint256 deadline
    );
    /// @notice `node` declared (committed) in `attempt` of `stage` (`attemptOf` counts them).
    event StageDeclared(
        uint256 indexed jobId, uint256 indexed stage, address indexed node, uint256 attempt, bytes32 commitment
    );
    /// @notice The commit phase closed by count: the reveal phase runs until `revealDeadline`.
    event StageCommitClosed(uint256 indexed jobId, uint256 indexed stage, uint256 attempt, uint256 revealDeadline);
    /// @notice `node` opened its declaration (`cidHash`: keccak256 of the CID it gave; the
    /// agreed CID itself is in `StageFinalised`); `position` ranks it among the openings of the
    /// same values (the first C are paid when those values finalise the stage).
    event StageRevealed(
        uint256 indexed jobId,
        uint256 indexed stage,
        address indexed node,
        uint256 attempt,
        bytes32 weightsHash,
        uint256 modelCommitment,
        bytes32 rho,
        bytes32 cidHash,
        uint256 position
    );
    /// @notice C openings agree: the stage is final with these values.
    event StageFinalised(
        uint256 indexed jobId,
        uint256 indexed stage,
        address indexed finaliser,
        uint256 attempt,
        bytes32 weightsHash,
        uint256 modelCommitment,
        bytes32 rho,
        string cid
    );
    /// @notice `attempt` of `stage` ended without agreement; `attempt + 1` starts now.
    event StageAttemptFailed(uint256 indexed jobId, uint256 indexed stage, uint256 attempt, uint256 declarations);
    /// @notice A paid declaration's reward was credited to `node`.
    event DeclarationRewarded(
        uint256 indexed jobId, uint256 indexed stage, address indexed node, uint256 attempt, uint256 amount
    );
    /// @notice A declaration was settled without reward or slash; its collateral is free.
    event DeclarationReleased(uint256 indexed jobId, uint256 indexed stage, address indexed node, uint256 attempt);
    /// @notice A declaration was slashed; `amount` went to the job's employer.
    event DeclarationSlashed(
        uint256 indexed jobId,
        uint256 indexed stage,
        address indexed node,
        uint256 attempt,
        uint256 amount,
        SlashReason reason
    );
    /// @notice A shard of the committed test set was posted (its bytes are the call's data).
    event TestShardPublished(uint256 indexed jobId, uint256 indexed shard, bytes32 dataHash);
    /// @notice Every shard is posted: accuracy proofs are taken until `proofDeadline`.
    event TestSetPublished(uint256 indexed jobId, uint256 proofDeadline);
    /// @notice A shard's accuracy proof was accepted.
    event AccuracyProofAccepted(
        uint256 indexed jobId, uint256 indexed shard, address indexed submitter, uint256 correctCount
    );
    /// @notice Every shard is proven and the count reaches the threshold: the bounty is owed to
    /// the last stage's paid nodes.
    event JobCompleted(uint256 indexed jobId, uint256 correctCount, uint256 bounty);
    /// @notice Every shard is proven but the count is below the threshold: `refunded` (the
    /// bounty) went back to the employer.
    event JobFailed(uint256 indexed jobId, uint256 correctCount, uint256 threshold, uint256 refunded);
    /// @notice The test set was not posted in time: the bounty is owed to the last stage's paid
    /// nodes.
    event BountyForfeited(uint256 indexed jobId, uint256 bounty);
    /// @notice `amount`, a share of the bounty, was credited to `node`.
    event BountyPaid(uint256 indexed jobId, address indexed node, uint256 amount);
    /// @notice The employer took back `amount` after a deadline.
    event JobReclaimed(uint256 indexed jobId, address indexed employer, uint256 amount);

    /// @notice `msg.value` is not the escrow the parameters need.
    error EscrowMismatch(uint256 expected, uint256 sent);
    /// @notice A `createJob` parameter is out of range; `name` is the parameter's name.
    error JobParamInvalid(bytes32 name);
    /// @notice The job is not in a status that allows the call.
    error JobStatusInvalid(uint256 jobId, JobStatus status);
    /// @notice The call comes after `deadline`.
    error DeadlinePassed(uint256 jobId, uint256 deadline);
    /// @notice The call needs `deadline` to have passed.
    error DeadlineNotReached(uint256 jobId, uint256 deadline);
    /// @notice Only the job's employer may make this call.
    error CallerNotEmployer(uint256 jobId, address caller);
    /// @notice `stage` is not the job's open stage.
    error StageNotOpen(uint256 jobId, uint256 stage, uint256 openStage);
    /// @notice The attempt's commit phase is over; the reveal phase ends at `revealDeadline`.
    error CommitPhaseClosed(uint256 jobId, uint256 stage, uint256 attempt, uint256 revealDeadline);
    /// @notice An attempt started now could not end before the job's deadline.
    error StageTooLate(uint256 jobId, uint256 stage, uint256 deadline);
    /// @notice The node already declared in this attempt.
    error DeclarationDuplicated(uint256 jobId, uint256 stage, address node);
    /// @notice The node's previous declaration in the job is still open: reveal it first (or
    /// wait for its reveal phase to end).
    error DeclarationUnsettled(uint256 jobId, uint256 stage, address node);
    /// @notice The node has no declaration in this attempt to open.
    error DeclarationUnknown(uint256 jobId, uint256 stage, address node);
    /// @notice The declaration was already opened.
    error DeclarationOpened(uint256 jobId, uint256 stage, address node);
    /// @notice The opening does not match the node's declaration.
    error OpeningMismatch(uint256 jobId, uint256 stage, address node);
    /// @notice The attempt is not in its reveal phase.
    error RevealPhaseClosed(uint256 jobId, uint256 stage, uint256 attempt);
    /// @notice The node's declaration cannot be settled yet (its reveal phase is running).
    error SettlementPending(uint256 jobId, uint256 stage, address node);
    /// @notice The node has nothing to settle in the job.
    error NothingToSettle(uint256 jobId, address node);
    /// @notice `shard` is not one of the job's shards.
    error ShardUnknown(uint256 jobId, uint256 shard);
    /// @notice The shard was already posted.
    error ShardPublished(uint256 jobId, uint256 shard);
    /// @notice The posted bytes are not the shard committed at `createJob`.
    error ShardDataMismatch(uint256 jobId, uint256 shard, bytes32 expected, bytes32 posted);
    /// @notice The shard's accuracy proof was already accepted.
    error ShardProven(uint256 jobId, uint256 shard);
    /// @notice Value arrived from someone other than the node registry.
    error PaymentUnexpected(address sender);

    /// @notice Escrows a job. Returns its id (ids start at 1).
    function createJob(JobParams calldata params) external payable returns (uint256 jobId);

    /// @notice Declares the caller's result for the open `stage`: `commitment` =
    /// `commitmentOf(rho, weightsHash, modelCommitment, rand, msg.sender)`. In the commit phase
    /// only; starts the stage's next attempt when the current one ended without agreement.
    /// Locks `slashAmount` of the caller's stake as collateral until the declaration is
    /// settled, and settles the caller's previous declaration in the job first.
    function declare(uint256 jobId, uint256 stage, bytes32 commitment) external;

    /// @notice Opens the caller's declaration of `stage` in its attempt's reveal phase (also
    /// after the stage was finalised by others, until that reveal phase ends). The C-th opening
    /// of the same values finalises the stage.
    function reveal(uint256 jobId, uint256 stage, Opening calldata opening) external;

    /// @notice Settles `node`'s latest declaration in the job (anyone may call): credits its
    /// reward, releases or slashes its collateral, and pays its share of the bounty once due.
    function settle(uint256 jobId, address node) external;

    /// @notice The employer posts one shard of the committed test set, after the last stage.
    /// `data` must hash to the shard's `shardDataHashes` entry.
    function publishTestShard(uint256 jobId, uint256 shard, bytes calldata data) external;

    /// @notice Submits the accuracy proof of one test-set shard of the final model (anyone:
    /// the bounty goes to the last stage's paid nodes, not to the sender).
    function submitAccuracyProof(uint256 jobId, uint256 shard, bytes calldata proof, uint256[] calldata instances)
        external;

    /// @notice After the test-set window passed without the whole test set, the bounty is owed
    /// to the last stage's paid nodes (anyone may call).
    function forfeitBounty(uint256 jobId) external;

    /// @notice Employer takes back what was not earned: in Training after the deadline, or in
    /// Proving after the proof deadline.
    function reclaim(uint256 jobId) external;

    /// @notice keccak256(abi.encodePacked(rho, weightsHash, modelCommitment, rand, node)).
    function commitmentOf(bytes32 rho, bytes32 weightsHash, uint256 modelCommitment, bytes32 rand, address node)
        external
        pure
        returns (bytes32);
    /// @notice keccak256(abi.encodePacked(rho, weightsHash, modelCommitment, keccak256(cid))):
    /// the values openings agree on.
    function openingKey(bytes32 rho, bytes32 weightsHash, uint256 modelCommitment, string calldata cid)
        external
        pure
        returns (bytes32);

    function getJob(uint256 jobId) external view returns (JobView memory);
    function attemptOf(uint256 jobId) external view returns (AttemptView memory);
    function declarationOf(uint256 jobId, address node) external view returns (DeclarationView memory);
    function stageResult(uint256 jobId, uint256 stage) external view returns (StageResult memory);
    function shardCommitments(uint256 jobId) external view returns (bytes32[] memory);
    function shardDataHashes(uint256 jobId) external view returns (bytes32[] memory);
    /// @notice Which shards are posted and which proven, one bit per shard (bit i: shard i).
    function shardBits(uint256 jobId) external view returns (uint256 published, uint256 proven);
    /// @notice Who sent the accepted proof of `shard` (zero: not proven). Recorded only: the
    /// bounty goes to the last stage's paid nodes.
    function shardSubmitter(uint256 jobId, uint256 shard) external view returns (address);
    function jobCount() external view returns (uint256);
    function registry() external view returns (INodeRegistry);
    /// @notice Total wei ever escrowed by `createJob`, for the conservation law.
    function totalEscrowed() external view returns (uint256);
}
