// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {IJobEscrow} from "../interfaces/IJobEscrow.sol";
import {INodeRegistry} from "../interfaces/INodeRegistry.sol";
import {PullPayments} from "../utils/PullPayments.sol";
import {NodeRegistry} from "../NodeRegistry.sol";

/// @title Jobs and their escrow: creation, the job record, reclaim, closing
/// @dev The base `StageDeclarations` and `AccuracyProofs` build on: it owns the job record
/// (one struct per job, packed so declare and reveal touch few slots) and every movement of a
/// job's `remaining` back to its employer. Escrow balance = Σ job remaining + Σ credits.
abstract contract JobLedger is IJobEscrow, PullPayments {
    uint256 private constant MAX_SHARDS = 32;
    // non-zero placeholders for `leadPair` and `runnerPair` at creation, so that the first
    // declaration of a stage's first and second pair rewrites a slot (5k gas) instead of
    // creating one (22k); the runner placeholder names stage 0, which is never open
    bytes32 private constant LEAD_PAIR_UNSET = bytes32(uint256(1));
    uint256 private constant RUNNER_PAIR_UNSET = 1;

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
        // keccak(weightsHash, modelCommitment) of the open stage's first declaration, counted
        // in `leadAgreement`: in a slot the job already owns, not one created per stage
        bytes32 leadPair;
        // the stage's second pair, in a slot the job owns too: the pair's top 224 bits, then
        // the stage it belongs to (16 bits) and its agreeing declarations (16 bits)
        uint256 runnerPair;
    }

    INodeRegistry public immutable registry;

    mapping(uint256 => Job) internal _jobs;
    mapping(uint256 => bytes32[]) internal _shards;
    uint256 private _jobCount;
    uint256 private _totalEscrowed;

    constructor(uint256 minStake, uint256 slashAmount, uint256 exitCooldown) {
        registry = new NodeRegistry(minStake, slashAmount, exitCooldown);
    }

    /// @dev Slashed stake arrives from the registry only; `StageDeclarations` credits it.
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
        job.runnerPair = RUNNER_PAIR_UNSET;
        _shards[jobId] = p.shardCommitments;
        _totalEscrowed += escrowed;
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
            due = job.phaseDeadline;
        } else {
            revert JobStatusInvalid(jobId, job.status);
        }
        if (block.timestamp < due) revert DeadlineNotReached(jobId, due);
        uint256 amount = job.remaining;
        _close(job, JobStatus.Closed);
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
    function jobCount() external view returns (uint256) {
        return _jobCount;
    }

    /// @inheritdoc IJobEscrow
    function totalEscrowed() external view returns (uint256) {
        return _totalEscrowed;
    }

    /// @dev Whether `node` is a finalist of the job: a matching declaration of its last stage.
    function _isFinalist(uint256 jobId, address node) internal view virtual returns (bool);

    function _requireStatus(uint256 jobId, Job storage job, JobStatus status) internal view {
        if (job.status != status) revert JobStatusInvalid(jobId, job.status);
    }

    /// @dev Ends the job; what it still holds goes back to the employer (the caller emits the
    /// job's event).
    function _close(Job storage job, JobStatus status) internal {
        uint256 left = job.remaining;
        job.status = status;
        job.remaining = 0;
        if (left > 0) _credit(job.employer, left);
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

    function _popCount(uint256 bits) private pure returns (uint256 n) {
        for (; bits != 0; bits &= bits - 1) ++n;
    }
}
