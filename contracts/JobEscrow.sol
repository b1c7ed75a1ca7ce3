// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {IJobEscrow} from "./interfaces/IJobEscrow.sol";
import {INodeRegistry} from "./interfaces/INodeRegistry.sol";
import {IAccuracyVerifier} from "./interfaces/IAccuracyVerifier.sol";
import {PullPayments} from "./utils/PullPayments.sol";
import {NodeRegistry} from "./NodeRegistry.sol";

/// @title Escrowed training jobs with staged Proof of Training and a zk accuracy proof
contract JobEscrow is IJobEscrow, PullPayments {
    // a declaration record: stage in the top 32 bits, finalist flag, then a truncated hash
    uint256 private constant STAGE_SHIFT = 224;
    uint256 private constant FINALIST = 1 << 223;
    uint256 private constant HASH_MASK = FINALIST - 1;
    uint256 private constant MAX_SHARDS = 32;
    // a non-zero placeholder for `leadPair` at creation, so that the first declaration of a
    // stage rewrites that slot (5k gas) instead of creating a storage slot (22k)
    bytes32 private constant LEAD_PAIR_UNSET = bytes32(uint256(1));

    // packed so declare and reveal touch few slots
    struct Job {
        // slot 0: everything declare reads
        uint16 stages;
        uint16 stagesDone;
        uint16 confirmations;
        uint16 declarations; // of the open stage
        uint16 leadAgreement; // declarations of the open stage agreeing with `leadPair`
        uint16 leadTag; // top bits of `leadPair`: another tag is another pair, no slot read
        JobStatus status;
        uint8 shardCount;
        uint8 finalists;
        uint40 deadline;
        uint96 reward;
        // slot 1
        address employer;
        uint96 remaining;
        // slot 2
        uint96 bounty;
        uint40 testSetWindow;
        uint40 proofWindow;
        uint40 phaseDeadline;
        uint32 samples;
        // slot 3
        address verifier;
        uint32 shardsProven; // bitmap
        uint32 correctCount;
        uint32 threshold;
        bytes32 manifestHash;
        uint256 finalModelCommitment;
        // keccak(weightsHash, modelCommitment) of the open stage's first declaration: the pair
        // honest nodes agree on is counted here, in a slot the job already owns
        bytes32 leadPair;
    }

    INodeRegistry public immutable registry;

    uint256 private _jobCount;
    uint256 private _totalEscrowed;
    mapping(uint256 => Job) private _jobs;
    mapping(uint256 => bytes32[]) private _shards;
    mapping(uint256 => mapping(uint256 => address)) private _shardSubmitters;
    // jobId => node => record of its latest declaration in the job
    mapping(uint256 => mapping(address => uint256)) private _records;
    // jobId => stage => keccak(weightsHash, modelCommitment) => agreeing declarations, for every
    // pair of a stage but its first (that one is counted in the job's `leadAgreement`)
    mapping(uint256 => mapping(uint256 => mapping(bytes32 => uint256))) private _agreement;

    constructor(uint256 minStake, uint256 slashAmount, uint256 exitCooldown) {
        registry = new NodeRegistry(minStake, slashAmount, exitCooldown);
    }

    /// @dev Slashed stake arrives from the registry only; it is credited in `_slash`.
    receive() external payable {
        if (msg.sender != address(registry)) revert PaymentUnexpected(msg.sender);
    }

    /// @inheritdoc IJobEscrow
    function createJob(JobParams calldata p) external payable returns (uint256 jobId) {
        _checkParams(p);
        uint256 escrowed = p.stages * p.confirmations * p.reward + p.bounty;
        if (msg.value != escrowed) revert EscrowMismatch(escrowed, msg.value);
        jobId = ++_jobCount;
        Job storage job = _jobs[jobId];
        job.employer = msg.sender;
        job.stages = uint16(p.stages);
        job.confirmations = uint16(p.confirmations);
        job.status = JobStatus.Training;
        job.shardCount = uint8(p.shardCommitments.length);
        job.reward = uint96(p.reward);
        job.remaining = uint96(escrowed);
        job.deadline = uint40(p.deadline);
        job.bounty = uint96(p.bounty);
        job.testSetWindow = uint40(p.testSetWindow);
        job.proofWindow = uint40(p.proofWindow);
        job.samples = uint32(p.samples);
        job.verifier = p.verifier;
        job.threshold = uint32(p.threshold);
        job.manifestHash = p.manifestHash;
        job.leadPair = LEAD_PAIR_UNSET;
        _shards[jobId] = p.shardCommitments;
        _totalEscrowed += escrowed;
        emit JobCreated(
            jobId, msg.sender, p.manifestHash, p.manifestCid, p.stages, p.confirmations, p.reward, p.bounty, p.deadline
        );
    }

    /// @inheritdoc IJobEscrow
    function declare(
        uint256 jobId,
        uint256 stage,
        bytes32 weightsHash,
        uint256 modelCommitment,
        bytes32 commitment,
        bytes32 rand
    ) external {
        Job storage job = _jobs[jobId];
        _requireTraining(jobId, job);
        if (stage != uint256(job.stagesDone) + 1) revert StageNotOpen(jobId, stage, uint256(job.stagesDone) + 1);
        if (_records[jobId][msg.sender] >> STAGE_SHIFT == stage) {
            revert DeclarationDuplicated(jobId, stage, msg.sender);
        }
        uint256 before = job.declarations;
        uint256 agreeing = _agree(jobId, job, stage, weightsHash, modelCommitment, before);
        job.declarations = uint16(before + 1);
        _records[jobId][msg.sender] = (stage << STAGE_SHIFT) | _recordHash(weightsHash, modelCommitment, commitment, rand);
        // reverts for unregistered or exiting nodes; keeps the stake until the deadline
        registry.lockStake(msg.sender, job.deadline);
        emit StageDeclared(jobId, stage, msg.sender, weightsHash, modelCommitment, commitment, rand);
        if (agreeing == 1 && before > 0) emit StageConflicted(jobId, stage, msg.sender, weightsHash, modelCommitment);
        if (agreeing == job.confirmations) emit StageAgreed(jobId, stage, weightsHash, modelCommitment);
    }

    /// @inheritdoc IJobEscrow
    function reveal(uint256 jobId, uint256 stage, bytes32 rho, string calldata cid, Declaration[] calldata decls)
        external
    {
        Job storage job = _jobs[jobId];
        _requireTraining(jobId, job);
        if (stage != uint256(job.stagesDone) + 1) revert StageNotOpen(jobId, stage, uint256(job.stagesDone) + 1);
        if (decls.length != job.declarations) revert DeclarationsIncomplete(jobId, stage, job.declarations, decls.length);
        Declaration calldata mine = _revealerOf(jobId, stage, rho, decls);
        bytes32 key = keccak256(abi.encode(mine.weightsHash, mine.modelCommitment));
        uint256 confirmations = job.confirmations;
        {
            uint256 agreeing = _agreementOf(jobId, job, stage, key);
            if (agreeing != confirmations) revert AgreementMissing(jobId, stage, agreeing);
        }

        uint256 matched = _countMatching(jobId, stage, key, rho, decls);
        // a lone copier of the agreed hashes must not be able to slash the honest majority
        if (matched * 2 <= confirmations) revert MajorityMissing(jobId, stage, matched, confirmations);
        _finalise(jobId, stage, matched, mine);
        emit StageFinalised(jobId, stage, msg.sender, mine.weightsHash, mine.modelCommitment, rho, cid, matched);
        _pay(jobId, stage, key, rho, decls);
    }

    /// @inheritdoc IJobEscrow
    function publishTestSet(uint256 jobId, string calldata cid) external {
        Job storage job = _jobs[jobId];
        _requireStatus(jobId, job, JobStatus.AwaitingTestSet);
        if (msg.sender != job.employer) revert CallerNotEmployer(jobId, msg.sender);
        if (block.timestamp >= job.phaseDeadline) revert DeadlinePassed(jobId, job.phaseDeadline);
        uint256 proofDeadline = block.timestamp + job.proofWindow;
        job.status = JobStatus.Proving;
        job.phaseDeadline = uint40(proofDeadline);
        emit TestSetPublished(jobId, cid, proofDeadline);
    }

    /// @inheritdoc IJobEscrow
    function submitAccuracyProof(uint256 jobId, uint256 shard, bytes calldata proof, uint256[] calldata instances)
        external
    {
        Job storage job = _jobs[jobId];
        _requireStatus(jobId, job, JobStatus.Proving);
        if (block.timestamp >= job.phaseDeadline) revert DeadlinePassed(jobId, job.phaseDeadline);
        // the share goes to the sender, and a proof does not depend on who sends it: only the
        // staked nodes that produced the final model may claim it, not a mempool copier
        if (_records[jobId][msg.sender] & FINALIST == 0) revert CallerNotFinalist(jobId, msg.sender);
        if (shard >= job.shardCount) revert ShardUnknown(jobId, shard);
        if (job.shardsProven & (1 << shard) != 0) revert ShardProven(jobId, shard);
        (bytes32 testSet, uint256 model, uint256 correct) =
            IAccuracyVerifier(job.verifier).verifyAccuracy(proof, instances);
        // the proof only says what it says: bind it to this job's shard and final model
        bytes32 expected = _shards[jobId][shard];
        if (testSet != expected) revert TestSetMismatch(jobId, shard, expected, testSet);
        if (model != job.finalModelCommitment) revert ModelMismatch(jobId, job.finalModelCommitment, model);
        if (correct > type(uint32).max) correct = type(uint32).max;

        uint32 proven = job.shardsProven | uint32(1 << shard);
        uint256 total = job.correctCount + correct;
        if (total > type(uint32).max) total = type(uint32).max;
        job.shardsProven = proven;
        job.correctCount = uint32(total);
        _shardSubmitters[jobId][shard] = msg.sender;
        emit AccuracyProofAccepted(jobId, shard, msg.sender, correct);
        if (proven == (uint256(1) << job.shardCount) - 1) _settle(jobId, job, total);
    }

    /// @inheritdoc IJobEscrow
    function forfeitBounty(uint256 jobId, address[] calldata finalists) external {
        Job storage job = _jobs[jobId];
        _requireStatus(jobId, job, JobStatus.AwaitingTestSet);
        if (block.timestamp < job.phaseDeadline) revert DeadlineNotReached(jobId, job.phaseDeadline);
        uint256 count = finalists.length;
        if (count != job.finalists) revert FinalistsInvalid(jobId);
        uint256 bounty = job.bounty;
        uint256 share = bounty / count;
        address previous;
        for (uint256 i; i < count; ++i) {
            address node = finalists[i];
            if (node <= previous || _records[jobId][node] & FINALIST == 0) revert FinalistsInvalid(jobId);
            previous = node;
            _credit(node, i == count - 1 ? bounty - share * (count - 1) : share);
        }
        job.remaining -= uint96(bounty);
        _close(jobId, job, JobStatus.Closed);
        emit BountyForfeited(jobId, count, share);
    }

    /// @inheritdoc IJobEscrow
    function reclaim(uint256 jobId) external {
        Job storage job = _jobs[jobId];
        if (msg.sender != job.employer) revert CallerNotEmployer(jobId, msg.sender);
        uint256 due;
        if (job.status == JobStatus.Training) {
            due = job.deadline;
        } else if (job.status == JobStatus.Proving) {
            due = job.phaseDeadline;
        } else {
            revert JobStatusInvalid(jobId, job.status);
        }
        if (block.timestamp < due) revert DeadlineNotReached(jobId, due);
        uint256 amount = job.remaining;
        _close(jobId, job, JobStatus.Closed);
        emit JobReclaimed(jobId, msg.sender, amount);
    }

    /// @inheritdoc IJobEscrow
    function commitmentOf(bytes32 rho, bytes32 rand, address node) public pure returns (bytes32) {
        return keccak256(abi.encodePacked(rho, rand, node));
    }

    /// @inheritdoc IJobEscrow
    function getJob(uint256 jobId) external view returns (JobView memory v) {
        Job storage job = _jobs[jobId];
        v.employer = job.employer;
        v.status = job.status;
        v.manifestHash = job.manifestHash;
        v.stages = job.stages;
        v.stagesDone = job.stagesDone;
        v.confirmations = job.confirmations;
        v.declarations = job.declarations;
        v.reward = job.reward;
        v.bounty = job.bounty;
        v.remaining = job.remaining;
        v.threshold = job.threshold;
        v.samples = job.samples;
        v.shardCount = job.shardCount;
        v.shardsProven = _popCount(job.shardsProven);
        v.correctCount = job.correctCount;
        v.verifier = job.verifier;
        v.deadline = job.deadline;
        v.testSetWindow = job.testSetWindow;
        v.proofWindow = job.proofWindow;
        v.phaseDeadline = job.phaseDeadline;
        v.finalModelCommitment = job.finalModelCommitment;
        v.finalists = job.finalists;
    }

    /// @inheritdoc IJobEscrow
    function shardCommitments(uint256 jobId) external view returns (bytes32[] memory) {
        return _shards[jobId];
    }

    /// @inheritdoc IJobEscrow
    function shardSubmitter(uint256 jobId, uint256 shard) external view returns (address) {
        return _shardSubmitters[jobId][shard];
    }

    /// @inheritdoc IJobEscrow
    function declarationOf(uint256 jobId, address node)
        external
        view
        returns (uint256 stage, bytes32 recordHash, bool finalist)
    {
        uint256 record = _records[jobId][node];
        return (record >> STAGE_SHIFT, bytes32(record & HASH_MASK), record & FINALIST != 0);
    }

    /// @inheritdoc IJobEscrow
    function agreementOf(uint256 jobId, uint256 stage, bytes32 weightsHash, uint256 modelCommitment)
        external
        view
        returns (uint256)
    {
        Job storage job = _jobs[jobId];
        if (job.status != JobStatus.Training || stage != uint256(job.stagesDone) + 1) return 0;
        return _agreementOf(jobId, job, stage, keccak256(abi.encode(weightsHash, modelCommitment)));
    }

    /// @inheritdoc IJobEscrow
    function jobCount() external view returns (uint256) {
        return _jobCount;
    }

    /// @inheritdoc IJobEscrow
    function totalEscrowed() external view returns (uint256) {
        return _totalEscrowed;
    }

    function _checkParams(JobParams calldata p) private view {
        if (p.stages == 0 || p.stages > type(uint16).max) revert JobParamInvalid("stages");
        if (p.confirmations == 0 || p.confirmations > type(uint8).max) revert JobParamInvalid("confirmations");
        if (p.reward > type(uint64).max || p.bounty > type(uint64).max) revert JobParamInvalid("amount");
        if (p.shardCommitments.length == 0 || p.shardCommitments.length > MAX_SHARDS) {
            revert JobParamInvalid("shards");
        }
        if (p.samples == 0 || p.samples > type(uint32).max) revert JobParamInvalid("samples");
        if (p.threshold == 0 || p.threshold > p.samples) revert JobParamInvalid("threshold");
        if (p.verifier.code.length == 0) revert JobParamInvalid("verifier");
        if (p.deadline <= block.timestamp || p.deadline > type(uint32).max) revert JobParamInvalid("deadline");
        if (p.testSetWindow == 0 || p.testSetWindow > 365 days) revert JobParamInvalid("testSetWindow");
        if (p.proofWindow == 0 || p.proofWindow > 365 days) revert JobParamInvalid("proofWindow");
    }

    function _requireTraining(uint256 jobId, Job storage job) private view {
        _requireStatus(jobId, job, JobStatus.Training);
        if (block.timestamp >= job.deadline) revert DeadlinePassed(jobId, job.deadline);
    }

    function _requireStatus(uint256 jobId, Job storage job, JobStatus status) private view {
        if (job.status != status) revert JobStatusInvalid(jobId, job.status);
    }

    /// @dev Counts one more declaration of (weightsHash, modelCommitment) in the open `stage`,
    /// refusing the (C+1)-th. The stage's first pair is counted in the job's own slots; only a
    /// pair that differs from it takes a storage slot of its own, so a node's first declaration
    /// in a job (which creates the node's record) creates one slot, not two.
    function _agree(
        uint256 jobId,
        Job storage job,
        uint256 stage,
        bytes32 weightsHash,
        uint256 modelCommitment,
        uint256 before
    ) private returns (uint256 agreeing) {
        bytes32 key = keccak256(abi.encode(weightsHash, modelCommitment));
        bool lead = before == 0 || _isLead(job, key);
        if (before == 0) agreeing = 1;
        else agreeing = (lead ? job.leadAgreement : _agreement[jobId][stage][key]) + 1;
        if (agreeing > job.confirmations) revert AgreementReached(jobId, stage, weightsHash);
        if (before == 0) (job.leadPair, job.leadTag) = (key, uint16(uint256(key) >> 240));
        if (lead) job.leadAgreement = uint16(agreeing);
        else _agreement[jobId][stage][key] = agreeing;
    }

    /// @dev Declarations of the open `stage` agreeing on the pair `key`.
    function _agreementOf(uint256 jobId, Job storage job, uint256 stage, bytes32 key)
        private
        view
        returns (uint256)
    {
        if (job.declarations > 0 && _isLead(job, key)) return job.leadAgreement;
        return _agreement[jobId][stage][key];
    }

    /// @dev Whether `key` is the open stage's first pair (once the stage has a declaration).
    function _isLead(Job storage job, bytes32 key) private view returns (bool) {
        return job.leadTag == uint16(uint256(key) >> 240) && job.leadPair == key;
    }

    /// @dev Finds the caller's declaration; its commitment must open with `rho`.
    function _revealerOf(uint256 jobId, uint256 stage, bytes32 rho, Declaration[] calldata decls)
        private
        view
        returns (Declaration calldata)
    {
        for (uint256 i; i < decls.length; ++i) {
            if (decls[i].node == msg.sender) {
                if (commitmentOf(rho, decls[i].rand, msg.sender) != decls[i].commitment) {
                    revert SecretMismatch(jobId, stage, msg.sender);
                }
                return decls[i];
            }
        }
        revert RevealerNotDeclarer(jobId, stage, msg.sender);
    }

    function _matches(Declaration calldata d, bytes32 key, bytes32 rho) private pure returns (bool) {
        // bound to the declarer's address: a copied commitment never opens for the copier
        return keccak256(abi.encode(d.weightsHash, d.modelCommitment)) == key
            && commitmentOf(rho, d.rand, d.node) == d.commitment;
    }

    /// @dev Checks every declaration is the one on record (each node once) and counts those
    /// that agree on `key` and open with `rho`.
    function _countMatching(uint256 jobId, uint256 stage, bytes32 key, bytes32 rho, Declaration[] calldata decls)
        private
        view
        returns (uint256 matched)
    {
        address previous;
        for (uint256 i; i < decls.length; ++i) {
            Declaration calldata d = decls[i];
            if (d.node <= previous) revert DeclarationsUnordered(jobId, d.node);
            previous = d.node;
            uint256 record = _records[jobId][d.node];
            if (
                record >> STAGE_SHIFT != stage
                    || record & HASH_MASK != _recordHash(d.weightsHash, d.modelCommitment, d.commitment, d.rand)
            ) revert DeclarationUnknown(jobId, stage, d.node);
            if (_matches(d, key, rho)) ++matched;
        }
    }

    /// @dev Closes the open stage; after the last one the job waits for the test set.
    function _finalise(uint256 jobId, uint256 stage, uint256 matched, Declaration calldata mine) private {
        Job storage job = _jobs[jobId];
        job.stagesDone = uint16(stage);
        job.declarations = 0;
        job.leadAgreement = 0;
        job.remaining -= uint96(job.reward * matched);
        if (stage == job.stages) {
            job.status = JobStatus.AwaitingTestSet;
            job.finalModelCommitment = mine.modelCommitment;
            job.finalists = uint8(matched);
            job.phaseDeadline = uint40(block.timestamp + job.testSetWindow);
        }
    }

    /// @dev Credits matching declarations, then slashes the others (registry call last).
    function _pay(uint256 jobId, uint256 stage, bytes32 key, bytes32 rho, Declaration[] calldata decls) private {
        Job storage job = _jobs[jobId];
        uint256 reward = job.reward;
        bool last = job.status == JobStatus.AwaitingTestSet;
        for (uint256 i; i < decls.length; ++i) {
            Declaration calldata d = decls[i];
            if (_matches(d, key, rho)) {
                _credit(d.node, reward);
                if (last) _records[jobId][d.node] |= FINALIST;
                emit DeclarationRewarded(jobId, stage, d.node, reward);
            }
        }
        for (uint256 i; i < decls.length; ++i) {
            Declaration calldata d = decls[i];
            if (!_matches(d, key, rho)) _slash(jobId, stage, job.employer, d.node);
        }
    }

    /// @dev Every shard is proven: pay the submitters if the summed count reaches the threshold.
    function _settle(uint256 jobId, Job storage job, uint256 total) private {
        if (total < job.threshold) {
            _close(jobId, job, JobStatus.Closed);
            emit JobFailed(jobId, total, job.threshold);
            return;
        }
        uint256 bounty = job.bounty;
        uint256 count = job.shardCount;
        uint256 share = bounty / count;
        for (uint256 i; i < count; ++i) {
            // equal shares per shard; the rounding remainder goes to the last shard's submitter
            _credit(_shardSubmitters[jobId][i], i == count - 1 ? bounty - share * (count - 1) : share);
        }
        job.remaining -= uint96(bounty);
        _close(jobId, job, JobStatus.Completed);
        emit JobCompleted(jobId, total, bounty);
    }

    function _slash(uint256 jobId, uint256 stage, address employer, address node) private {
        uint256 amount = registry.slash(node);
        // slashed stake compensates the employer whose stage it polluted
        if (amount > 0) _credit(employer, amount);
        emit DeclarationSlashed(jobId, stage, node, amount);
    }

    /// @dev Ends the job; what it still holds goes back to the employer.
    function _close(uint256 jobId, Job storage job, JobStatus status) private {
        uint256 left = job.remaining;
        job.status = status;
        job.remaining = 0;
        if (left > 0) _credit(job.employer, left);
        jobId; // the caller emits the job's event
    }

    function _recordHash(bytes32 weightsHash, uint256 modelCommitment, bytes32 commitment, bytes32 rand)
        private
        pure
        returns (uint256)
    {
        return uint256(keccak256(abi.encode(weightsHash, modelCommitment, commitment, rand))) & HASH_MASK;
    }

    function _popCount(uint256 bits) private pure returns (uint256 n) {
        for (; bits != 0; bits &= bits - 1) ++n;
    }
}
