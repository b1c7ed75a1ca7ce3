// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IAccuracyVerifier} from "../interfaces/IAccuracyVerifier.sol";
import {IFederatedTask} from "./IFederatedTask.sol";

/// @title Accuracy certificates of a federated task: its test shards, each round's global model
/// and that model's certified count (the baseline the round's updates must improve on)
/// @dev Keeps its own private storage; FederatedTask calls the internal functions.
abstract contract RoundCertificates is IFederatedTask {
    struct GlobalModel {
        uint256 commitment;
        string cid;
        uint224 correctCount; // certified on the task's test set: the round's baseline
        uint32 updates; // accepted in the round (one slot with the baseline each update reads)
    }

    mapping(uint256 taskId => bytes32[]) private _testSets;
    mapping(uint256 taskId => mapping(uint32 round => GlobalModel)) private _globalModels;

    /// @inheritdoc IFederatedTask
    function testSetCommitments(uint256 taskId) external view returns (bytes32[] memory) {
        return _testSets[taskId];
    }

    /// @inheritdoc IFederatedTask
    function globalModel(uint256 taskId, uint32 round) external view returns (uint256 commitment, string memory cid) {
        GlobalModel storage m = _globalModels[taskId][round];
        return (m.commitment, m.cid);
    }

    /// @inheritdoc IFederatedTask
    function baselineCount(uint256 taskId, uint32 round) external view returns (uint256) {
        return _globalModels[taskId][round].correctCount;
    }

    function _setTestSet(uint256 taskId, bytes32[] calldata shards) internal {
        _testSets[taskId] = shards;
    }

    function _globalCommitment(uint256 taskId, uint32 round) internal view returns (uint256) {
        return _globalModels[taskId][round].commitment;
    }

    function _baseline(uint256 taskId, uint32 round) internal view returns (uint256) {
        return _globalModels[taskId][round].correctCount;
    }

    function _updateCountOf(uint256 taskId, uint32 round) internal view returns (uint32) {
        return _globalModels[taskId][round].updates;
    }

    function _countUpdate(uint256 taskId, uint32 round) internal {
        _globalModels[taskId][round].updates += 1;
    }

    /// @dev Publish round `round`'s global model. With proofs, its count is what they prove on
    /// the task's shards (and they must prove this model), at least the previous round's count;
    /// without, an initial model counts 0 and a later one must be the previous round's model,
    /// whose count it keeps.
    function _publishGlobal(
        uint256 taskId,
        uint32 round,
        Task storage task,
        uint256 commitment,
        string calldata cid,
        bytes[] calldata proofs,
        uint256[][] calldata instances
    ) internal returns (uint256 count) {
        if (proofs.length == 0 && round != 0) {
            GlobalModel storage previous = _globalModels[taskId][round - 1];
            if (commitment != previous.commitment) revert GlobalModelUnproven(commitment);
            count = previous.correctCount;
        } else if (proofs.length != 0) {
            uint256 model;
            (model, count) = _verifyShards(taskId, task.verifier, proofs, instances);
            if (model != commitment) revert ModelMismatch(taskId, commitment, model);
            // a faulty verifier cannot raise the bar past N
            if (count > task.sampleCount) count = task.sampleCount;
            if (round != 0) {
                // the baseline never falls: an earlier global model (public, and anyone can
                // prove it), moved by a grid step to a new commitment, would otherwise be paid
                // its gain over a worse later one
                uint256 baseline = _globalModels[taskId][round - 1].correctCount;
                if (count < baseline) revert GlobalModelRegressed(commitment, count, baseline);
            }
        }
        // counts are at most N < 2^32 (createTask)
        _globalModels[taskId][round] = GlobalModel(commitment, cid, uint224(count), 0);
    }

    /// @dev Verify one proof per shard; all must prove the same model on their shard's test set.
    function _verifyShards(
        uint256 taskId,
        IAccuracyVerifier verifier,
        bytes[] calldata proofs,
        uint256[][] calldata instances
    ) internal returns (uint256 modelCommitment, uint256 correct) {
        bytes32[] storage shards = _testSets[taskId];
        if (proofs.length != shards.length || instances.length != shards.length) {
            revert ShardCountMismatch(proofs.length, shards.length);
        }
        for (uint256 i = 0; i < shards.length; i++) {
            (bytes32 testSet, uint256 model, uint256 count) = verifier.verifyAccuracy(proofs[i], instances[i]);
            if (testSet != shards[i]) revert TestSetMismatch(taskId, i, shards[i], testSet);
            if (i == 0) modelCommitment = model;
            else if (model != modelCommitment) revert ModelMismatch(taskId, modelCommitment, model);
            correct += count;
        }
    }
}
