// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IAccuracyVerifier} from "../interfaces/IAccuracyVerifier.sol";
import {PullPayments} from "../utils/PullPayments.sol";
import {IFederatedTask} from "./IFederatedTask.sol";
import {RoundCertificates} from "./RoundCertificates.sol";

/// @title FederatedTask
/// @notice Federated training rounds whose contributions are accepted and paid by their
/// zk-proven improvement over the round's certified global model; the chain never sees the
/// data or the weights, only their commitments.
contract FederatedTask is RoundCertificates, PullPayments {
    uint256 private constant MAX_WINDOW = 30 days;

    uint256 private _taskCount;
    mapping(uint256 => Task) private _tasks;
    mapping(uint256 => string) private _manifestCids;
    mapping(uint256 => mapping(uint256 => bool)) private _commitmentUsed;
    // a participant's commitment of a round, then SUBMITTED once its update is accepted (one
    // slot for both: an accepted update costs one storage write less)
    mapping(uint256 => mapping(uint32 => mapping(address => bytes32))) private _commits;
    bytes32 private constant SUBMITTED = bytes32(uint256(1));

    /// @inheritdoc IFederatedTask
    function createTask(TaskParams calldata p) external payable returns (uint256 taskId) {
        if (p.testSetCommitments.length == 0) revert ShardsMissing();
        // (a test set of more than 2^32 samples is no test set a circuit proves)
        if (p.threshold == 0 || p.threshold > p.sampleCount || p.sampleCount > type(uint32).max) {
            revert ThresholdInvalid(p.threshold, p.sampleCount);
        }
        if (p.rounds == 0 || p.maxUpdatesPerRound == 0) revert RoundsInvalid(p.rounds, p.maxUpdatesPerRound);
        if (p.commitWindow == 0 || p.revealWindow == 0 || p.commitWindow > MAX_WINDOW || p.revealWindow > MAX_WINDOW) {
            revert WindowInvalid(p.commitWindow, p.revealWindow);
        }
        // a task must leave time for at least one whole round
        if (p.deadline < block.timestamp + p.commitWindow + p.revealWindow) revert DeadlineInvalid(p.deadline);
        if (p.encryptionKey == bytes32(0)) revert EncryptionKeyMissing();
        // a copy of the global model gains 0: a margin of 0 would accept (and fill rounds with) copies
        if (p.minImprovement == 0 || p.minImprovement > p.sampleCount) {
            revert MarginInvalid(p.minImprovement, p.sampleCount);
        }
        uint256 escrow = uint256(p.rounds) * p.maxUpdatesPerRound * p.rewardPerUpdate;
        if (msg.value != escrow) revert EscrowMismatch(escrow, msg.value);

        taskId = ++_taskCount;
        _tasks[taskId] = Task({
            employer: msg.sender,
            status: TaskStatus.Active,
            rounds: p.rounds,
            round: 0,
            maxUpdatesPerRound: p.maxUpdatesPerRound,
            deadline: p.deadline,
            roundStart: uint64(block.timestamp),
            commitWindow: p.commitWindow,
            revealWindow: p.revealWindow,
            minImprovement: p.minImprovement,
            verifier: p.verifier,
            encryptionKey: p.encryptionKey,
            sampleCount: p.sampleCount,
            threshold: p.threshold,
            rewardPerUpdate: p.rewardPerUpdate,
            escrow: escrow
        });
        _setTestSet(taskId, p.testSetCommitments);
        _manifestCids[taskId] = p.manifestCid;
        // an initial model created without proofs counts 0: that only raises what updates earn
        _publishGlobal(
            taskId, 0, _tasks[taskId], p.initialModelCommitment, p.initialModelCid, p.initialModelProofs,
            p.initialModelInstances
        );
        _commitmentUsed[taskId][p.initialModelCommitment] = true;
        emit TaskCreated(
            taskId, msg.sender, address(p.verifier), p.rounds, p.threshold, escrow, p.encryptionKey, p.manifestCid
        );
    }

    /// @inheritdoc IFederatedTask
    function commitUpdate(uint256 taskId, uint32 round, bytes32 commitment) external {
        Task storage task = _openTask(taskId);
        _requireRoomFor(taskId, task, round);
        uint256 commitEnd = uint256(task.roundStart) + task.commitWindow;
        if (block.timestamp >= commitEnd) revert CommitPhaseClosed(taskId, round, commitEnd);
        // kept under the sender (and the hash binds it): nobody can take, replace or block
        // another participant's commitment, and a copied one opens only for its author
        if (commitment == bytes32(0) || commitment == SUBMITTED) revert UpdateCommitmentInvalid(commitment);
        _commits[taskId][round][msg.sender] = commitment;
        emit UpdateCommitted(taskId, round, msg.sender, commitment);
    }

    /// @inheritdoc IFederatedTask
    function submitUpdate(
        uint256 taskId,
        uint32 round,
        bytes[] calldata proofs,
        uint256[][] calldata instances,
        string calldata encryptedUpdateCid
    ) external nonReentrant {
        Task storage task = _openTask(taskId);
        _requireRoomFor(taskId, task, round);
        _requireRevealPhase(taskId, task, round);
        (uint256 modelCommitment, uint256 correct) =
            _reveal(taskId, round, task.verifier, proofs, instances, encryptedUpdateCid);
        // a proof says nothing about who made it: a commitment is paid once per task, so replaying
        // another participant's proof (this round or an earlier one) earns nothing, and neither
        // does re-proving a global model unchanged: every round's is marked used when published
        // (found by an attack: an earlier global that proved more than a later one was paid)
        if (_commitmentUsed[taskId][modelCommitment] || modelCommitment == _globalCommitment(taskId, round)) {
            revert ModelCommitmentReused(modelCommitment);
        }
        uint256 reward = _improvementReward(task, correct, _baseline(taskId, round));
        _commitmentUsed[taskId][modelCommitment] = true;
        _commits[taskId][round][msg.sender] = SUBMITTED;
        _countUpdate(taskId, round);
        task.escrow -= reward;
        _credit(msg.sender, reward);
        emit UpdateAccepted(taskId, round, msg.sender, modelCommitment, correct, reward, encryptedUpdateCid);
    }

    /// @inheritdoc IFederatedTask
    function closeRound(
        uint256 taskId,
        uint32 round,
        uint256 modelCommitment,
        string calldata modelCid,
        bytes[] calldata proofs,
        uint256[][] calldata instances
    ) external {
        Task storage task = _openTask(taskId);
        if (msg.sender != task.employer) revert CallerNotEmployer(taskId, msg.sender);
        if (round != task.round) revert RoundNotOpen(round, task.round);
        {
            (, uint256 revealEnd) = _phases(task);
            // every reveal of the round had its whole phase: closing cannot cut one off
            if (block.timestamp < revealEnd) revert RoundNotOver(taskId, round, revealEnd);
        }
        // the next round's baseline is certified: an employer cannot lower it to pay less, nor
        // raise it past what its model proves
        uint256 count = _publishGlobal(taskId, round + 1, task, modelCommitment, modelCid, proofs, instances);
        _commitmentUsed[taskId][modelCommitment] = true;
        _openNextRound(taskId, task, round, modelCommitment, modelCid, count);
    }

    /// @inheritdoc IFederatedTask
    function refund(uint256 taskId) external {
        Task storage task = _openTask(taskId);
        if (msg.sender != task.employer) revert CallerNotEmployer(taskId, msg.sender);
        if (block.timestamp <= task.deadline) revert TaskNotExpired(taskId, task.deadline);
        (, uint256 revealEnd) = _phases(task);
        if (block.timestamp < revealEnd) revert RoundNotOver(taskId, task.round, revealEnd);
        uint256 unspent = task.escrow;
        task.status = TaskStatus.Refunded;
        task.escrow = 0;
        _credit(task.employer, unspent);
        emit TaskRefunded(taskId, unspent);
    }

    /// @inheritdoc IFederatedTask
    function getTask(uint256 taskId) external view returns (Task memory) {
        return _tasks[taskId];
    }

    /// @inheritdoc IFederatedTask
    function manifestCid(uint256 taskId) external view returns (string memory) {
        return _manifestCids[taskId];
    }

    /// @inheritdoc IFederatedTask
    function updateCount(uint256 taskId, uint32 round) external view returns (uint32) {
        return _updateCountOf(taskId, round);
    }

    /// @inheritdoc IFederatedTask
    function hasSubmitted(uint256 taskId, uint32 round, address participant) external view returns (bool) {
        return _commits[taskId][round][participant] == SUBMITTED;
    }

    /// @inheritdoc IFederatedTask
    function updateCommitment(
        uint256 taskId,
        uint32 round,
        address participant,
        uint256 modelCommitment,
        string calldata encryptedUpdateCid
    ) public pure returns (bytes32) {
        return keccak256(
            abi.encodePacked(taskId, round, participant, modelCommitment, keccak256(bytes(encryptedUpdateCid)))
        );
    }

    /// @inheritdoc IFederatedTask
    function committedUpdate(uint256 taskId, uint32 round, address participant) external view returns (bytes32) {
        bytes32 commitment = _commits[taskId][round][participant];
        return commitment == SUBMITTED ? bytes32(0) : commitment;
    }

    /// @inheritdoc IFederatedTask
    function roundPhases(uint256 taskId) external view returns (uint256 start, uint256 commitEnd, uint256 revealEnd) {
        Task storage task = _tasks[taskId];
        (commitEnd, revealEnd) = _phases(task);
        start = task.roundStart;
    }

    /// @inheritdoc IFederatedTask
    function isModelCommitmentUsed(uint256 taskId, uint256 modelCommitment) external view returns (bool) {
        return _commitmentUsed[taskId][modelCommitment];
    }

    /// @inheritdoc IFederatedTask
    function taskCount() external view returns (uint256) {
        return _taskCount;
    }

    function _openTask(uint256 taskId) private view returns (Task storage task) {
        task = _tasks[taskId];
        if (task.status != TaskStatus.Active) revert TaskNotActive(taskId);
    }

    /// @dev The sender may still add an update to `round`: it is the open round, the sender has
    /// no accepted update in it, and the round is not full. (Checked at commit and at reveal.)
    function _requireRoomFor(uint256 taskId, Task storage task, uint32 round) private view {
        if (round != task.round) revert RoundNotOpen(round, task.round);
        if (_commits[taskId][round][msg.sender] == SUBMITTED) revert UpdateAlreadySubmitted(msg.sender, round);
        if (_updateCountOf(taskId, round) >= task.maxUpdatesPerRound) revert RoundFull(round);
    }

    /// @dev The reward for an update certified `correct` over a global model certified `baseline`:
    /// rewardPerUpdate * (correct - baseline) / (N - baseline). A resubmitted global model,
    /// slightly changed, gains nothing: the margin refuses it (and absorbs a lucky sample).
    function _improvementReward(Task storage task, uint256 correct, uint256 baseline) private view returns (uint256) {
        if (correct < task.threshold) revert AccuracyBelowThreshold(correct, task.threshold);
        if (correct < baseline + task.minImprovement) {
            revert ImprovementBelowMargin(correct, baseline, task.minImprovement);
        }
        // a faulty verifier cannot overpay: the count is capped at N (the baseline is below it)
        uint256 counted = correct > task.sampleCount ? task.sampleCount : correct;
        return (task.rewardPerUpdate * (counted - baseline)) / (task.sampleCount - baseline);
    }

    /// @dev Start the next round from its (now published) global model; closing the last one
    /// completes the task and credits the unspent escrow to the employer.
    function _openNextRound(
        uint256 taskId,
        Task storage task,
        uint32 round,
        uint256 modelCommitment,
        string calldata modelCid,
        uint256 count
    ) private {
        task.round = round + 1;
        task.roundStart = uint64(block.timestamp);
        emit RoundClosed(taskId, round, modelCommitment, modelCid, _updateCountOf(taskId, round), count);
        if (task.round == task.rounds) {
            uint256 unspent = task.escrow;
            task.status = TaskStatus.Completed;
            task.escrow = 0;
            _credit(task.employer, unspent);
            emit TaskCompleted(taskId, unspent);
        }
    }

    /// @dev Reveals are taken in the round's reveal phase only: nobody reads one before the
    /// commit phase is over, so a copy has nothing to open.
    function _requireRevealPhase(uint256 taskId, Task storage task, uint32 round) private view {
        (uint256 commitEnd, uint256 revealEnd) = _phases(task);
        if (block.timestamp < commitEnd) revert RevealPhaseNotOpen(taskId, round, commitEnd);
        if (block.timestamp >= revealEnd) revert RevealPhaseClosed(taskId, round, revealEnd);
    }

    /// @dev The open round's commit-phase end and reveal-phase end.
    function _phases(Task storage task) private view returns (uint256 commitEnd, uint256 revealEnd) {
        commitEnd = uint256(task.roundStart) + task.commitWindow;
        revealEnd = commitEnd + task.revealWindow;
    }

    /// @dev Open the sender's commitment of the round with the verified update.
    function _reveal(
        uint256 taskId,
        uint32 round,
        IAccuracyVerifier verifier,
        bytes[] calldata proofs,
        uint256[][] calldata instances,
        string calldata encryptedUpdateCid
    ) private returns (uint256 modelCommitment, uint256 correct) {
        bytes32 committed = _commits[taskId][round][msg.sender];
        if (committed == bytes32(0)) revert UpdateNotCommitted(msg.sender, round);
        (modelCommitment, correct) = _verifyShards(taskId, verifier, proofs, instances);
        bytes32 revealed = updateCommitment(taskId, round, msg.sender, modelCommitment, encryptedUpdateCid);
        if (revealed != committed) revert UpdateCommitmentMismatch(committed, revealed);
    }
}
