// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {IPullPayments} from "./IPullPayments.sol";
import {INodeRegistry} from "./INodeRegistry.sol";

/// @title Escrowed training jobs: staged Proof of Training and a zk accuracy proof
/// @notice Lifecycle: `Training` (stages 1..t are declared and revealed in order) →
/// `AwaitingTestSet` (last stage final; the employer publishes the test set) → `Proving`
/// (accuracy proofs per test-set shard) → `Completed`. `Closed` ends a job otherwise: reclaimed
/// after a deadline, bounty forfeited to the finalists, or accuracy below the threshold.
/// Money only moves by credit + `withdraw`. Escrow balance = Σ job remaining + Σ credits.
interface IJobEscrow is IPullPayments {
    enum JobStatus {
        None,
        Training,
        AwaitingTestSet,
        Proving,
        Completed,
        Closed
    }

    /// @notice What `createJob` takes. `msg.value` must be stages*confirmations*reward + bounty.
    struct JobParams {
        bytes32 manifestHash;
        string manifestCid;
        uint256 stages; // t >= 1
        uint256 confirmations; // C >= 1: agreeing declarations that finalise a stage
        uint256 reward; // per confirmed declaration
        uint256 bounty; // paid for the accepted accuracy proof(s)
        uint256 threshold; // correct predictions required, summed over all shards
        uint256 samples; // N, total test samples over all shards
        bytes32[] shardCommitments; // one per proof shard of the test set
        address verifier; // an IAccuracyVerifier
        uint256 deadline; // unix time: stages must be final before it
        uint256 testSetWindow; // seconds after the last stage for the employer to publish
        uint256 proofWindow; // seconds after publication for the accuracy proofs
    }

    /// @notice One declaration as it was published in `StageDeclared`, for `reveal`.
    struct Declaration {
        address node;
        bytes32 weightsHash;
        uint256 modelCommitment;
        bytes32 commitment;
        bytes32 rand;
    }

    /// @notice Read-only state of one job.
    struct JobView {
        address employer;
        JobStatus status;
        bytes32 manifestHash;
        uint256 stages;
        uint256 stagesDone;
        uint256 confirmations;
        uint256 declarations; // declarations made for the open stage
        uint256 reward;
        uint256 bounty;
        uint256 remaining; // escrow still held for this job
        uint256 threshold;
        uint256 samples;
        uint256 shardCount;
        uint256 shardsProven;
        uint256 correctCount; // summed over proven shards
        address verifier;
        uint256 deadline;
        uint256 testSetWindow;
        uint256 proofWindow;
        uint256 phaseDeadline; // test-set deadline (AwaitingTestSet) or proof deadline (Proving)
        uint256 finalModelCommitment;
        uint256 finalists; // matching declarations of the last stage
    }

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
    event StageDeclared(
        uint256 indexed jobId,
        uint256 indexed stage,
        address indexed node,
        bytes32 weightsHash,
        uint256 modelCommitment,
        bytes32 commitment,
        bytes32 rand
    );
    /// @notice A declaration's (weightsHash, modelCommitment) differs from an earlier one.
    event StageConflicted(
        uint256 indexed jobId, uint256 indexed stage, address indexed node, bytes32 weightsHash, uint256 modelCommitment
    );
    /// @notice C declarations agree: one of their nodes may now reveal.
    event StageAgreed(uint256 indexed jobId, uint256 indexed stage, bytes32 weightsHash, uint256 modelCommitment);
    event StageFinalised(
        uint256 indexed jobId,
        uint256 indexed stage,
        address indexed revealer,
        bytes32 weightsHash,
        uint256 modelCommitment,
        bytes32 rho,
        string cid,
        uint256 confirmed
    );
    event DeclarationRewarded(uint256 indexed jobId, uint256 indexed stage, address indexed node, uint256 amount);
    event DeclarationSlashed(uint256 indexed jobId, uint256 indexed stage, address indexed node, uint256 amount);
    event TestSetPublished(uint256 indexed jobId, string cid, uint256 proofDeadline);
    event AccuracyProofAccepted(
        uint256 indexed jobId, uint256 indexed shard, address indexed submitter, uint256 correctCount
    );
    event JobCompleted(uint256 indexed jobId, uint256 correctCount, uint256 bounty);
    /// @notice All shards proven but the summed count is below the threshold.
    event JobFailed(uint256 indexed jobId, uint256 correctCount, uint256 threshold);
    event BountyForfeited(uint256 indexed jobId, uint256 finalists, uint256 share);
    event JobReclaimed(uint256 indexed jobId, address indexed employer, uint256 amount);

    error EscrowMismatch(uint256 expected, uint256 sent);
    error JobParamInvalid(bytes32 name);
    error JobStatusInvalid(uint256 jobId, JobStatus status);
    error DeadlinePassed(uint256 jobId, uint256 deadline);
    error DeadlineNotReached(uint256 jobId, uint256 deadline);
    error CallerNotEmployer(uint256 jobId, address caller);
    error StageNotOpen(uint256 jobId, uint256 stage, uint256 openStage);
    error NodeInactive(address node);
    error DeclarationDuplicated(uint256 jobId, uint256 stage, address node);
    error AgreementReached(uint256 jobId, uint256 stage, bytes32 weightsHash);
    error DeclarationsIncomplete(uint256 jobId, uint256 stage, uint256 expected, uint256 given);
    error DeclarationsUnordered(uint256 jobId, address node);
    error DeclarationUnknown(uint256 jobId, uint256 stage, address node);
    error RevealerNotDeclarer(uint256 jobId, uint256 stage, address revealer);
    error AgreementMissing(uint256 jobId, uint256 stage, uint256 count);
    error SecretMismatch(uint256 jobId, uint256 stage, address revealer);
    error MajorityMissing(uint256 jobId, uint256 stage, uint256 matched, uint256 confirmations);
    error ShardUnknown(uint256 jobId, uint256 shard);
    error ShardProven(uint256 jobId, uint256 shard);
    error TestSetMismatch(uint256 jobId, uint256 shard, bytes32 expected, bytes32 proven);
    error ModelMismatch(uint256 jobId, uint256 expected, uint256 proven);
    error FinalistsInvalid(uint256 jobId);
    /// @notice Only a finalist of the job (a matching declaration of its last stage) may
    /// submit an accuracy proof.
    error CallerNotFinalist(uint256 jobId, address caller);
    error PaymentUnexpected(address sender);

    /// @notice Escrows a job. Returns its id (ids start at 1).
    function createJob(JobParams calldata params) external payable returns (uint256 jobId);

    /// @notice Declares the caller's result for the open `stage` of `jobId`.
    /// @param weightsHash keccak256 of the canonical weights S_stage
    /// @param modelCommitment h_W of the same weights: keccak256 of their KZG commitment (what the zk proof states)
    /// @param commitment keccak256(abi.encodePacked(rho, rand, msg.sender))
    /// @param rand the declarer's blinding value, public with the declaration
    function declare(
        uint256 jobId,
        uint256 stage,
        bytes32 weightsHash,
        uint256 modelCommitment,
        bytes32 commitment,
        bytes32 rand
    ) external;

    /// @notice Reveals the training secret `rho` of the open stage, finalising it.
    /// @dev Only a node whose declaration is among the C agreeing ones and matches `rho`.
    /// `declarations` lists every declaration of the stage (from `StageDeclared`), ordered by
    /// node address ascending. Matching agreeing declarations are credited `reward`; every other
    /// declaration is slashed (stake to the employer). A strict majority of the C agreeing
    /// declarations must match `rho`, so a lone copier cannot slash honest nodes.
    /// @param cid content ID of the weights S_stage
    function reveal(
        uint256 jobId,
        uint256 stage,
        bytes32 rho,
        string calldata cid,
        Declaration[] calldata declarations
    ) external;

    /// @notice Employer publishes the test set once the last stage is final.
    function publishTestSet(uint256 jobId, string calldata cid) external;

    /// @notice Submits the accuracy proof of one test-set shard of the final model.
    /// @dev Finalists only (`CallerNotFinalist` otherwise): the shard's bounty share goes to
    /// the sender and a proof does not depend on its sender, so anyone else could copy a
    /// finalist's pending proof from the mempool and be paid for it. One finalist can still
    /// copy another's pending proof: they are staked, identified nodes that produced the same
    /// final model. When every shard is proven and the summed count reaches the threshold, the
    /// bounty is split equally between the shards' submitters (remainder to the last) and the
    /// job completes; below the threshold the job closes and the bounty returns to the employer.
    function submitAccuracyProof(uint256 jobId, uint256 shard, bytes calldata proof, uint256[] calldata instances)
        external;

    /// @notice After the test-set window passed unpublished, splits the bounty between the
    /// last stage's matching nodes (`finalists`, ordered by address ascending).
    function forfeitBounty(uint256 jobId, address[] calldata finalists) external;

    /// @notice Employer takes back what was not earned: in Training after the deadline, or in
    /// Proving after the proof deadline.
    function reclaim(uint256 jobId) external;

    /// @notice keccak256(abi.encodePacked(rho, rand, node)).
    function commitmentOf(bytes32 rho, bytes32 rand, address node) external pure returns (bytes32);

    function getJob(uint256 jobId) external view returns (JobView memory);
    function shardCommitments(uint256 jobId) external view returns (bytes32[] memory);
    function shardSubmitter(uint256 jobId, uint256 shard) external view returns (address);
    /// @notice The node's latest declaration in the job: its stage (0: none), its record hash
    /// (keccak of weightsHash, modelCommitment, commitment, rand, truncated) and whether it was
    /// a matching declaration of the last stage.
    function declarationOf(uint256 jobId, address node)
        external
        view
        returns (uint256 stage, bytes32 recordHash, bool finalist);
    /// @notice Declarations of the open `stage` agreeing on (weightsHash, modelCommitment); 0
    /// for a stage that is not open (final, not reached yet, or the job is no longer training).
    function agreementOf(uint256 jobId, uint256 stage, bytes32 weightsHash, uint256 modelCommitment)
        external
        view
        returns (uint256);
    function jobCount() external view returns (uint256);
    function registry() external view returns (INodeRegistry);
    /// @notice Total wei ever escrowed by `createJob`, for the conservation law.
    function totalEscrowed() external view returns (uint256);
}
