// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IJobEscrow} from "../interfaces/IJobEscrow.sol";
import {INodeRegistry} from "../interfaces/INodeRegistry.sol";
import {PullPayments} from "../utils/PullPayments.sol";
import {NodeRegistry} from "../NodeRegistry.sol";

/// @title Jobs and their escrow: creation, the job record, reclaim, closing
/// @dev The base the stage and proof contracts build on: it owns the job record (one struct
/// per job, packed so declare and reveal touch few slots) and every movement of a job's
/// `remaining` and `owed`. Escrow balance = Σ job remaining + Σ job owed + Σ credits.
abstract contract JobLedger is IJobEscrow, PullPayments {
    uint256 internal constant MAX_STAGES = 10_000;
    uint256 internal constant MAX_CONFIRMATIONS = 32;
    uint256 internal constant MAX_SHARDS = 32;
    // the windows must cover a stage's training and the accuracy proofs with margin: proving an
    // N=256 certificate takes about a minute on 2 cores (docs/zk.md)
    uint256 internal constant MIN_PHASE_WINDOW = 1 minutes;
    uint256 internal constant MAX_PHASE_WINDOW = 30 days;
    uint256 internal constant MIN_PROOF_WINDOW = 1 hours;
    uint256 internal constant MIN_TEST_SET_WINDOW = 1 hours;
    uint256 internal constant MAX_WINDOW = 365 days;
    // non-zero placeholder of `leadKey` at creation, so the first opening of every attempt
    // rewrites a slot (5k gas) instead of creating one (22k)
    bytes32 private constant LEAD_KEY_UNSET = bytes32(uint256(1));

    struct Job {
        // slot 0: what declare and reveal read and write
        uint16 stages;
        uint16 stagesDone;
        uint16 attempt; // of the open stage
        uint8 confirmations;
        uint8 declarations; // of the open stage's current attempt
        uint8 leadOpenings; // openings of `leadKey` in the current attempt
        JobStatus status;
        uint40 attemptStart;
        uint40 commitClosedAt; // 0 unless the commit phase closed by count
        uint24 commitWindow;
        uint24 revealWindow;
        uint40 deadline;
        // slot 1: what a finalisation and a paid settlement read and move (one slot for all)
        uint96 remaining;
        uint96 owed;
        uint64 reward; // at most type(uint64).max (createJob checks)
        // slot 2
        address employer;
        uint32 testSetWindow;
        uint32 proofWindow;
        // slot 3: the first values opened in the current attempt (counted in `leadOpenings`)
        bytes32 leadKey;
        // slot 4
        uint96 bounty;
        uint40 phaseDeadline;
        uint32 samples;
        uint32 threshold;
        uint32 correctCount;
        uint8 shardCount;
        // slot 5
        address verifier;
        uint32 shardsPublished; // bitmap
        uint32 shardsProven; // bitmap
        bytes32 manifestHash;
        uint256 finalModelCommitment;
    }

    INodeRegistry public immutable registry;

    mapping(uint256 jobId => Job) internal _jobs;
    mapping(uint256 jobId => bytes32[]) internal _shards;
    mapping(uint256 jobId => bytes32[]) internal _shardData;
    uint256 private _jobCount;
    uint256 private _totalEscrowed;

    constructor(uint256 minStake, uint256 slashAmount, uint256 exitCooldown) {
        registry = new NodeRegistry(minStake, slashAmount, exitCooldown);
    }

    /// @dev Slashed stake arrives from the registry only; the settlement credits it.
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
        job.stages = uint16(p.stages);
        job.confirmations = uint8(p.confirmations);
        job.status = JobStatus.Training;
        job.attemptStart = uint40(block.timestamp);
        job.commitWindow = uint24(p.commitWindow);
        job.revealWindow = uint24(p.revealWindow);
        job.deadline = uint40(p.deadline);
        job.employer = msg.sender;
        job.remaining = uint96(escrowed);
        job.reward = uint64(p.reward);
        job.testSetWindow = uint32(p.testSetWindow);
        job.proofWindow = uint32(p.proofWindow);
        job.leadKey = LEAD_KEY_UNSET;
        job.bounty = uint96(p.bounty);
        job.samples = uint32(p.samples);
        job.threshold = uint32(p.threshold);
        job.shardCount = uint8(p.shardCommitments.length);
        job.verifier = p.verifier;
        job.manifestHash = p.manifestHash;
        _shards[jobId] = p.shardCommitments;
        _shardData[jobId] = p.shardDataHashes;
        _totalEscrowed += escrowed;
        _prepareStages(jobId, p.stages);
        emit JobCreated(
            jobId, msg.sender, p.manifestHash, p.manifestCid, p.stages, p.confirmations, p.reward, p.bounty, p.deadline
        );
    }

    /// @inheritdoc IJobEscrow
    function reclaim(uint256 jobId) external {
        Job storage job = _jobs[jobId];
        if (msg.sender != job.employer) revert CallerNotEmployer(jobId, msg.sender);
        uint256 due;
        if (job.status == JobStatus.Training) {
            due = job.deadline;
        } else if (job.status == JobStatus.Proving) {
            // the test set is on chain: any finalist could have proven; silence returns the bounty
            due = job.phaseDeadline;
        } else {
            revert JobStatusInvalid(jobId, job.status);
        }
        if (block.timestamp < due) revert DeadlineNotReached(jobId, due);
        uint256 amount = job.remaining;
        _close(job, JobStatus.Reclaimed);
        emit JobReclaimed(jobId, msg.sender, amount);
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
        v.reward = job.reward;
        v.bounty = job.bounty;
        v.remaining = job.remaining;
        v.owed = job.owed;
        v.threshold = job.threshold;
        v.samples = job.samples;
        v.shardCount = job.shardCount;
        v.shardsPublished = _popCount(job.shardsPublished);
        v.shardsProven = _popCount(job.shardsProven);
        v.correctCount = job.correctCount;
        v.verifier = job.verifier;
        v.deadline = job.deadline;
        v.commitWindow = job.commitWindow;
        v.revealWindow = job.revealWindow;
        v.testSetWindow = job.testSetWindow;
        v.proofWindow = job.proofWindow;
        v.phaseDeadline = job.phaseDeadline;
        v.finalModelCommitment = job.finalModelCommitment;
    }

    /// @inheritdoc IJobEscrow
    function shardCommitments(uint256 jobId) external view returns (bytes32[] memory) {
        return _shards[jobId];
    }

    /// @inheritdoc IJobEscrow
    function shardDataHashes(uint256 jobId) external view returns (bytes32[] memory) {
        return _shardData[jobId];
    }

    /// @inheritdoc IJobEscrow
    function jobCount() external view returns (uint256) {
        return _jobCount;
    }

    /// @inheritdoc IJobEscrow
    function totalEscrowed() external view returns (uint256) {
        return _totalEscrowed;
    }

    /// @dev What a new job's stages need in storage before their first declaration.
    function _prepareStages(uint256 jobId, uint256 stages) internal virtual;

    function _requireStatus(uint256 jobId, Job storage job, JobStatus status) internal view {
        if (job.status != status) revert JobStatusInvalid(jobId, job.status);
    }

    /// @dev Moves `amount` of the job's escrow to what it owes its nodes (paid at settlement).
    function _earmark(Job storage job, uint256 amount) internal {
        job.remaining -= uint96(amount);
        job.owed += uint96(amount);
    }

    /// @dev Ends the job; what it still holds unearned goes back to the employer (the caller
    /// emits the job's event). What it owes stays for settlement.
    function _close(Job storage job, JobStatus status) internal {
        uint256 left = job.remaining;
        job.status = status;
        job.remaining = 0;
        if (left > 0) _credit(job.employer, left);
    }

    function _checkParams(JobParams calldata p) private view {
        if (p.stages == 0 || p.stages > MAX_STAGES) revert JobParamInvalid("stages");
        if (p.confirmations == 0 || p.confirmations > MAX_CONFIRMATIONS) revert JobParamInvalid("confirmations");
        if (p.reward > type(uint64).max || p.bounty > type(uint64).max) revert JobParamInvalid("amount");
        uint256 shards = p.shardCommitments.length;
        if (shards == 0 || shards > MAX_SHARDS) revert JobParamInvalid("shards");
        if (p.shardDataHashes.length != shards) revert JobParamInvalid("shardDataHashes");
        for (uint256 i = 1; i < shards; ++i) {
            // one proof must not count for two shards
            for (uint256 j; j < i; ++j) {
                if (p.shardCommitments[i] == p.shardCommitments[j]) revert JobParamInvalid("shardCommitments");
            }
        }
        if (p.samples == 0 || p.samples > type(uint32).max) revert JobParamInvalid("samples");
        if (p.threshold == 0 || p.threshold > p.samples) revert JobParamInvalid("threshold");
        if (p.verifier.code.length == 0) revert JobParamInvalid("verifier");
        if (p.deadline <= block.timestamp || p.deadline > type(uint40).max) revert JobParamInvalid("deadline");
        if (p.commitWindow < MIN_PHASE_WINDOW || p.commitWindow > MAX_PHASE_WINDOW) {
            revert JobParamInvalid("commitWindow");
        }
        if (p.revealWindow < MIN_PHASE_WINDOW || p.revealWindow > MAX_PHASE_WINDOW) {
            revert JobParamInvalid("revealWindow");
        }
        if (p.testSetWindow < MIN_TEST_SET_WINDOW || p.testSetWindow > MAX_WINDOW) {
            revert JobParamInvalid("testSetWindow");
        }
        if (p.proofWindow < MIN_PROOF_WINDOW || p.proofWindow > MAX_WINDOW) revert JobParamInvalid("proofWindow");
    }

    function _popCount(uint256 bits) private pure returns (uint256 n) {
        for (; bits != 0; bits &= bits - 1) ++n;
    }
}
