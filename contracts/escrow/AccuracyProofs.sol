// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IAccuracyVerifier} from "../interfaces/IAccuracyVerifier.sol";
import {IJobEscrow} from "../interfaces/IJobEscrow.sol";
import {JobLedger} from "./JobLedger.sol";

/// @title The final model's accuracy: the committed test set, zk proofs per shard, the bounty
/// @dev After the last stage the employer posts each shard of the test set as call data; the
/// contract hashes it and compares it with the hash fixed at `createJob`, so the employer cannot
/// post nothing, or other data, and keep the bounty. Then anyone proves each shard through the
/// job's `IAccuracyVerifier`: the bounty is owed to the last stage's paid nodes (settled per
/// node), never to a proof's sender, so copying a pending proof earns nothing. Silence rules:
/// the test set not posted in its window → the bounty is owed to those nodes (`forfeitBounty`);
/// posted but not every shard proven in the proof window → the employer may reclaim it (the
/// data was on chain and any of those nodes could have proven; they gain by proving a model
/// that reaches the threshold, so silence means it does not, or that they gave it up).
abstract contract AccuracyProofs is JobLedger {
    // jobId => shard => who sent its accepted proof (for the record; it is not paid for it)
    mapping(uint256 jobId => mapping(uint256 shard => address)) private _shardSubmitters;

    /// @inheritdoc IJobEscrow
    function publishTestShard(uint256 jobId, uint256 shard, bytes calldata data) external {
        Job storage job = _jobs[jobId];
        _requireStatus(jobId, job, JobStatus.AwaitingTestSet);
        if (msg.sender != job.employer) revert CallerNotEmployer(jobId, msg.sender);
        if (block.timestamp >= job.phaseDeadline) revert DeadlinePassed(jobId, job.phaseDeadline);
        uint256 count = job.shardCount;
        if (shard >= count) revert ShardUnknown(jobId, shard);
        uint32 published = job.shardsPublished;
        if (published & (1 << shard) != 0) revert ShardPublished(jobId, shard);
        bytes32 expected = _shardData[jobId][shard];
        bytes32 posted = keccak256(data);
        if (posted != expected) revert ShardDataMismatch(jobId, shard, expected, posted);
        published |= uint32(1 << shard);
        job.shardsPublished = published;
        emit TestShardPublished(jobId, shard, posted);
        if (published == (uint256(1) << count) - 1) {
            uint256 proofDeadline = block.timestamp + job.proofWindow;
            job.status = JobStatus.Proving;
            job.phaseDeadline = uint40(proofDeadline);
            emit TestSetPublished(jobId, proofDeadline);
        }
    }

    /// @inheritdoc IJobEscrow
    function submitAccuracyProof(uint256 jobId, uint256 shard, bytes calldata proof, uint256[] calldata instances)
        external
    {
        Job storage job = _jobs[jobId];
        _requireStatus(jobId, job, JobStatus.Proving);
        if (block.timestamp >= job.phaseDeadline) revert DeadlinePassed(jobId, job.phaseDeadline);
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
        if (proven == (uint256(1) << job.shardCount) - 1) _certify(jobId, job, total);
    }

    /// @inheritdoc IJobEscrow
    function forfeitBounty(uint256 jobId) external {
        Job storage job = _jobs[jobId];
        _requireStatus(jobId, job, JobStatus.AwaitingTestSet);
        if (block.timestamp < job.phaseDeadline) revert DeadlineNotReached(jobId, job.phaseDeadline);
        uint256 bounty = job.bounty;
        _earmark(job, bounty);
        _close(job, JobStatus.Forfeited);
        emit BountyForfeited(jobId, bounty);
    }

    /// @inheritdoc IJobEscrow
    function shardBits(uint256 jobId) external view returns (uint256 published, uint256 proven) {
        Job storage job = _jobs[jobId];
        return (job.shardsPublished, job.shardsProven);
    }

    /// @inheritdoc IJobEscrow
    function shardSubmitter(uint256 jobId, uint256 shard) external view returns (address) {
        return _shardSubmitters[jobId][shard];
    }

    /// @dev Every shard is proven: the bounty is owed to the last stage's paid nodes if the
    /// summed count reaches the threshold, else it goes back to the employer.
    function _certify(uint256 jobId, Job storage job, uint256 total) private {
        uint256 bounty = job.bounty;
        if (total < job.threshold) {
            _close(job, JobStatus.Failed);
            emit JobFailed(jobId, total, job.threshold, bounty);
            return;
        }
        _earmark(job, bounty);
        _close(job, JobStatus.Completed);
        emit JobCompleted(jobId, total, bounty);
    }
}
