// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IJobEscrow} from "../interfaces/IJobEscrow.sol";
import {DeclarationSettlement} from "./DeclarationSettlement.sol";

/// @title Proof of Training stages: hidden declarations, their openings, finalisation
/// @dev The open stage (`stagesDone + 1`) runs in attempts (see `IJobEscrow`): a commit phase
/// that takes at most 2C − 1 declarations, each a hash that shows nothing copyable, then a
/// reveal phase in which each declarer opens its own. The C-th opening of the same values
/// finalises the stage; no other values can reach C among 2C − 1. Every call touches the
/// caller's record and the job's slots only, so its gas does not grow with other declarations.
abstract contract StageDeclarations is DeclarationSettlement {
    // jobId => keccak(stage, attempt, key) => openings, for values other than an attempt's first
    mapping(uint256 jobId => mapping(bytes32 attemptKey => uint256)) private _openings;

    /// @inheritdoc IJobEscrow
    function declare(uint256 jobId, uint256 stage, bytes32 commitment) external {
        Job storage job = _jobs[jobId];
        _requireStatus(jobId, job, JobStatus.Training);
        if (block.timestamp >= job.deadline) revert DeadlinePassed(jobId, job.deadline);
        if (stage != uint256(job.stagesDone) + 1) revert StageNotOpen(jobId, stage, uint256(job.stagesDone) + 1);
        uint256 count = _openAttempt(jobId, job, stage);
        uint256 attempt = job.attempt;

        uint256 rec = _records[jobId][msg.sender];
        bool carried;
        if (rec != 0) {
            if (_stageOf(rec) == stage && _attemptOf(rec) == attempt) {
                revert DeclarationDuplicated(jobId, stage, msg.sender);
            }
            if (rec & SETTLED == 0) {
                // the node's previous declaration in this job is settled first; its freed
                // collateral backs the new one
                Outcome outcome = _settle(jobId, job, msg.sender, rec);
                if (outcome == Outcome.Pending) revert DeclarationUnsettled(jobId, _stageOf(rec), msg.sender);
                carried = outcome == Outcome.Paid || outcome == Outcome.Released;
            }
        }
        // reverts for unregistered or exiting nodes, and when the stake cannot back one more
        // open declaration at the slash amount
        registry.lock(msg.sender, carried);
        count += 1;
        job.declarations = uint8(count);
        _records[jobId][msg.sender] = (stage << STAGE_SHIFT) | (attempt << ATTEMPT_SHIFT) | _hash192(commitment);
        emit StageDeclared(jobId, stage, msg.sender, attempt, commitment);
        if (count == 2 * uint256(job.confirmations) - 1) {
            job.commitClosedAt = uint40(block.timestamp);
            emit StageCommitClosed(jobId, stage, attempt, block.timestamp + job.revealWindow);
        }
    }

    /// @inheritdoc IJobEscrow
    function reveal(uint256 jobId, uint256 stage, Opening calldata opening) external {
        Job storage job = _jobs[jobId];
        uint256 rec = _records[jobId][msg.sender];
        if (rec == 0 || _stageOf(rec) != stage) revert DeclarationUnknown(jobId, stage, msg.sender);
        if (_positionOf(rec) != 0) revert DeclarationOpened(jobId, stage, msg.sender);
        bytes32 commitment =
            commitmentOf(opening.rho, opening.weightsHash, opening.modelCommitment, opening.rand, msg.sender);
        if (rec & HASH_MASK != _hash192(commitment)) revert OpeningMismatch(jobId, stage, msg.sender);
        bytes32 cidHash = keccak256(bytes(opening.cid));
        bytes32 key = _openingKey(opening.rho, opening.weightsHash, opening.modelCommitment, cidHash);
        uint256 attempt = _attemptOf(rec);

        uint256 position;
        uint256 revealDeadline;
        if (job.status == JobStatus.Training && stage == uint256(job.stagesDone) + 1) {
            revealDeadline = _commitDeadline(job) + job.revealWindow;
            if (attempt != job.attempt || _committing(job) || block.timestamp >= revealDeadline) {
                revert RevealPhaseClosed(jobId, stage, attempt);
            }
            position = _count(jobId, job, stage, attempt, key);
        } else {
            // a final stage: openings of its agreed attempt are still taken until its reveal
            // phase ends (an honest declarer is never slashed for being slower than C others)
            (uint256 agreed,, uint256 deadline) = _resultOf(jobId, stage);
            if (attempt != agreed || block.timestamp >= deadline) revert RevealPhaseClosed(jobId, stage, attempt);
            position = LATE;
        }
        _records[jobId][msg.sender] = (rec & ~(HASH_MASK | (0xff << POSITION_SHIFT))) | (position << POSITION_SHIFT)
            | _hash192(key);
        emit StageRevealed(
            jobId, stage, msg.sender, attempt, opening.weightsHash, opening.modelCommitment, opening.rho, cidHash, position
        );
        if (position == job.confirmations) _finalise(jobId, job, stage, attempt, key, revealDeadline, opening);
    }

    /// @dev Starts the stage's next attempt when the current one ended without agreement (or
    /// restarts it when nobody declared in its commit window); returns the declarations of the
    /// attempt that takes this declaration. Reverts outside a commit phase.
    function _openAttempt(uint256 jobId, Job storage job, uint256 stage) private returns (uint256 count) {
        count = job.declarations;
        if (!_committing(job)) {
            uint256 revealDeadline = _commitDeadline(job) + job.revealWindow;
            if (block.timestamp < revealDeadline) revert CommitPhaseClosed(jobId, stage, job.attempt, revealDeadline);
            emit StageAttemptFailed(jobId, stage, job.attempt, count);
            // a new order of the stage's samples: nothing opened in the failed attempt helps
            job.attempt += 1;
            job.attemptStart = uint40(block.timestamp);
            job.commitClosedAt = 0;
            job.leadOpenings = 0;
            count = 0;
        } else if (count == 0 && block.timestamp >= uint256(job.attemptStart) + job.commitWindow) {
            job.attemptStart = uint40(block.timestamp); // nobody declared in time: the clock restarts
        }
        if (count == 0) {
            uint256 end = uint256(job.attemptStart) + job.commitWindow + job.revealWindow;
            if (end > job.deadline) revert StageTooLate(jobId, stage, job.deadline);
            if (job.attempt == 0 && stage > PREPAID_RESULTS) _reserveResult(jobId, stage);
        }
    }

    /// @dev One more opening of `key` in the attempt; returns its position among them.
    function _count(uint256 jobId, Job storage job, uint256 stage, uint256 attempt, bytes32 key)
        private
        returns (uint256 n)
    {
        uint256 lead = job.leadOpenings;
        if (lead == 0) {
            job.leadKey = key;
            job.leadOpenings = 1;
            return 1;
        }
        if (job.leadKey == key) {
            n = lead + 1;
            job.leadOpenings = uint8(n);
            return n;
        }
        n = ++_openings[jobId][keccak256(abi.encode(stage, attempt, key))];
    }

    /// @dev C openings agree: the stage is final, its C rewards are earmarked, the next stage
    /// opens; after the last one the job waits for the test set.
    function _finalise(
        uint256 jobId,
        Job storage job,
        uint256 stage,
        uint256 attempt,
        bytes32 key,
        uint256 revealDeadline,
        Opening calldata opening
    ) private {
        _recordResult(jobId, stage, attempt, key, revealDeadline);
        _earmark(job, uint256(job.reward) * job.confirmations);
        job.stagesDone = uint16(stage);
        job.attempt = 0;
        job.declarations = 0;
        job.leadOpenings = 0;
        job.commitClosedAt = 0;
        job.attemptStart = uint40(block.timestamp);
        if (stage == job.stages) {
            job.status = JobStatus.AwaitingTestSet;
            job.finalModelCommitment = opening.modelCommitment;
            job.phaseDeadline = uint40(block.timestamp + job.testSetWindow);
        }
        emit StageFinalised(
            jobId, stage, msg.sender, attempt, opening.weightsHash, opening.modelCommitment, opening.rho, opening.cid
        );
    }
}
