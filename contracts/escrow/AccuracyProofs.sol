// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {IJobEscrow} from "../interfaces/IJobEscrow.sol";
import {IAccuracyVerifier} from "../interfaces/IAccuracyVerifier.sol";
import {JobLedger} from "./JobLedger.sol";

/// @title The final model's accuracy: test set, zk proofs per shard, and the bounty
/// @dev After the last stage: the employer publishes the test set, the job's finalists prove
/// the final model's accuracy shard by shard through the job's `IAccuracyVerifier`, and the
/// bounty goes to the shards' submitters (or back to the employer below the threshold, or to
/// the finalists when the test set never came).
abstract contract AccuracyProofs is JobLedger {
    // jobId => shard => the finalist whose proof of it was accepted
    mapping(uint256 => mapping(uint256 => address)) private _shardSubmitters;

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
        if (!_isFinalist(jobId, msg.sender)) revert CallerNotFinalist(jobId, msg.sender);
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
        address previous;
        for (uint256 i; i < count; ++i) {
            address node = finalists[i];
            if (node <= previous || !_isFinalist(jobId, node)) revert FinalistsInvalid(jobId);
            previous = node;
            _credit(node, _share(bounty, count, i));
        }
        job.remaining -= uint96(bounty);
        _close(job, JobStatus.Closed);
        emit BountyForfeited(jobId, count, bounty / count);
    }

    /// @inheritdoc IJobEscrow
    function shardCommitments(uint256 jobId) external view returns (bytes32[] memory) {
        return _shards[jobId];
    }

    /// @inheritdoc IJobEscrow
    function shardSubmitter(uint256 jobId, uint256 shard) external view returns (address) {
        return _shardSubmitters[jobId][shard];
    }

    /// @dev Every shard is proven: pay the submitters if the summed count reaches the threshold.
    function _settle(uint256 jobId, Job storage job, uint256 total) private {
        if (total < job.threshold) {
            _close(job, JobStatus.Closed);
            emit JobFailed(jobId, total, job.threshold);
            return;
        }
        uint256 bounty = job.bounty;
        uint256 count = job.shardCount;
        for (uint256 i; i < count; ++i) {
            _credit(_shardSubmitters[jobId][i], _share(bounty, count, i));
        }
        job.remaining -= uint96(bounty);
        _close(job, JobStatus.Completed);
        emit JobCompleted(jobId, total, bounty);
    }

    /// @dev The i-th of `count` equal shares of `amount`; the rounding remainder goes to the last.
    function _share(uint256 amount, uint256 count, uint256 i) private pure returns (uint256) {
        uint256 share = amount / count;
        return i == count - 1 ? amount - share * (count - 1) : share;
    }
}
