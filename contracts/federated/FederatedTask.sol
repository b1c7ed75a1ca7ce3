// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IAccuracyVerifier} from "../interfaces/IAccuracyVerifier.sol";
import {PullPayments} from "../utils/PullPayments.sol";
import {IFederatedTask} from "./IFederatedTask.sol";

/// @title FederatedTask
/// @notice Federated training rounds whose contributions are accepted and paid by zk-proven
/// accuracy; the chain never sees the data or the weights, only their commitments.
contract FederatedTask is IFederatedTask, PullPayments {
    struct GlobalModel {
        uint256 commitment;
        string cid;
    }

    uint256 private constant MAX_WINDOW = 30 days;

    uint256 private _taskCount;
    mapping(uint256 => Task) private _tasks;
    mapping(uint256 => bytes32[]) private _testSets;
    mapping(uint256 => string) private _manifestCids;
    mapping(uint256 => mapping(uint32 => GlobalModel)) private _globalModels;
    mapping(uint256 => mapping(uint32 => uint32)) private _updateCounts;
    mapping(uint256 => mapping(uint32 => mapping(address => bool))) private _submitted;
    mapping(uint256 => mapping(uint256 => bool)) private _commitmentUsed;
    mapping(uint256 => mapping(uint32 => mapping(address => bytes32))) private _commits;

    /// @inheritdoc IFederatedTask
    function createTask(TaskParams calldata p) external payable returns (uint256 taskId) {
        if (p.testSetCommitments.length == 0) revert ShardsMissing();
        if (p.threshold == 0 || p.threshold > p.sampleCount) revert ThresholdInvalid(p.threshold, p.sampleCount);
        if (p.rounds == 0 || p.maxUpdatesPerRound == 0) revert RoundsInvalid(p.rounds, p.maxUpdatesPerRound);
        if (p.commitWindow == 0 || p.revealWindow == 0 || p.commitWindow > MAX_WINDOW || p.revealWindow > MAX_WINDOW) {
            revert WindowInvalid(p.commitWindow, p.revealWindow);
        }
        // a task must leave time for at least one whole round
        if (p.deadline < block.timestamp + p.commitWindow + p.revealWindow) revert DeadlineInvalid(p.deadline);
        if (p.encryptionKey == bytes32(0)) revert EncryptionKeyMissing();
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
            verifier: p.verifier,
            encryptionKey: p.encryptionKey,
            sampleCount: p.sampleCount,
            threshold: p.threshold,
            rewardPerUpdate: p.rewardPerUpdate,
            escrow: escrow
        });
        _testSets[taskId] = p.testSetCommitments;
        _manifestCids[taskId] = p.manifestCid;
        _globalModels[taskId][0] = GlobalModel(p.initialModelCommitment, p.initialModelCid);
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
        if (correct < task.threshold) revert AccuracyBelowThreshold(correct, task.threshold);
        // a proof says nothing about who made it: a commitment is paid once per task, so replaying
        // another participant's proof (this round or an earlier one) earns nothing, and neither
        // does re-proving the global model unchanged
        if (_commitmentUsed[taskId][modelCommitment] || modelCommitment == _globalModels[taskId][round].commitment) {
            revert ModelCommitmentReused(modelCommitment);
        }

        // a faulty verifier cannot overpay: the count is capped at N
        uint256 counted = correct > task.sampleCount ? task.sampleCount : correct;
        uint256 reward = (task.rewardPerUpdate * counted) / task.sampleCount;
        _commitmentUsed[taskId][modelCommitment] = true;
        _submitted[taskId][round][msg.sender] = true;
        delete _commits[taskId][round][msg.sender];
        _updateCounts[taskId][round] += 1;
        task.escrow -= reward;
        _credit(msg.sender, reward);
        emit UpdateAccepted(taskId, round, msg.sender, modelCommitment, correct, reward, encryptedUpdateCid);
    }

    /// @inheritdoc IFederatedTask
    function closeRound(uint256 taskId, uint32 round, uint256 modelCommitment, string calldata modelCid) external {
        Task storage task = _openTask(taskId);
        if (msg.sender != task.employer) revert CallerNotEmployer(taskId, msg.sender);
        if (round != task.round) revert RoundNotOpen(round, task.round);
        (, uint256 revealEnd) = _phases(task);
        // every reveal of the round had its whole phase: closing cannot cut one off
        if (block.timestamp < revealEnd) revert RoundNotOver(taskId, round, revealEnd);

        _globalModels[taskId][round + 1] = GlobalModel(modelCommitment, modelCid);
        task.round = round + 1;
        task.roundStart = uint64(block.timestamp);
        emit RoundClosed(taskId, round, modelCommitment, modelCid, _updateCounts[taskId][round]);
        if (task.round == task.rounds) {
            uint256 unspent = task.escrow;
            task.status = TaskStatus.Completed;
            task.escrow = 0;
            _credit(task.employer, unspent);
            emit TaskCompleted(taskId, unspent);
        }
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
    function testSetCommitments(uint256 taskId) external view returns (bytes32[] memory) {
        return _testSets[taskId];
    }

    /// @inheritdoc IFederatedTask
    function manifestCid(uint256 taskId) external view returns (string memory) {
        return _manifestCids[taskId];
    }

    /// @inheritdoc IFederatedTask
    function globalModel(uint256 taskId, uint32 round) external view returns (uint256 commitment, string memory cid) {
        GlobalModel storage m = _globalModels[taskId][round];
        return (m.commitment, m.cid);
    }

    /// @inheritdoc IFederatedTask
    function updateCount(uint256 taskId, uint32 round) external view returns (uint32) {
        return _updateCounts[taskId][round];
    }

    /// @inheritdoc IFederatedTask
    function hasSubmitted(uint256 taskId, uint32 round, address participant) external view returns (bool) {
        return _submitted[taskId][round][participant];
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
        return _commits[taskId][round][participant];
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
        if (_submitted[taskId][round][msg.sender]) revert UpdateAlreadySubmitted(msg.sender, round);
        if (_updateCounts[taskId][round] >= task.maxUpdatesPerRound) revert RoundFull(round);
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

    /// @dev Verify one proof per shard; all must prove the same model on their shard's test set.
    function _verifyShards(
        uint256 taskId,
        IAccuracyVerifier verifier,
        bytes[] calldata proofs,
        uint256[][] calldata instances
    ) private returns (uint256 modelCommitment, uint256 correct) {
        bytes32[] storage shards = _testSets[taskId];
        if (proofs.length != shards.length || instances.length != shards.length) {
            revert ShardCountMismatch(proofs.length, shards.length);
        }
        for (uint256 i = 0; i < shards.length; i++) {
            (bytes32 testSet, uint256 model, uint256 count) = verifier.verifyAccuracy(proofs[i], instances[i]);
            if (testSet != shards[i]) revert TestSetMismatch(i, testSet);
            if (i == 0) modelCommitment = model;
            else if (model != modelCommitment) revert ModelCommitmentMismatch(i, model);
            correct += count;
        }
    }
}
