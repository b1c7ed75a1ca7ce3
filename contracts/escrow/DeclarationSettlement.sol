// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IJobEscrow} from "../interfaces/IJobEscrow.sol";
import {StageAttempts} from "./StageAttempts.sol";

/// @title Settlement of declarations: rewards, slashing, collateral, the bounty's shares
/// @dev Per declaration and O(1): whoever calls pays only for that declaration, so no
/// transaction's gas grows with how many others declared. A declaration is
/// - pending while its attempt's reveal phase runs (it may still be opened);
/// - paid (`reward`) when it opened the stage's agreed values among the first C, released
///   when it opened them later;
/// - slashed (`slashAmount` of its node's stake, to the employer) when it was not opened in
///   its reveal phase, or opened to values other than those the stage agreed on;
/// - released when it opened in an attempt that ended without agreement.
/// The last stage's paid declarations also take equal shares of the bounty once it is due.
abstract contract DeclarationSettlement is StageAttempts {
    enum Outcome {
        Pending,
        Paid,
        Released,
        SlashedUnopened,
        SlashedOutvoted
    }

    /// @inheritdoc IJobEscrow
    function settle(uint256 jobId, address node) external {
        uint256 rec = _records[jobId][node];
        if (rec == 0) revert NothingToSettle(jobId, node);
        Job storage job = _jobs[jobId];
        bool settledNow;
        if (rec & SETTLED == 0) {
            Outcome outcome = _settle(jobId, job, node, rec);
            if (outcome == Outcome.Pending) revert SettlementPending(jobId, _stageOf(rec), node);
            if (outcome == Outcome.Paid || outcome == Outcome.Released) registry.unlock(node);
            rec |= SETTLED;
            settledNow = true;
        }
        if (rec & BOUNTY_SETTLED == 0 && _bountyShareOf(jobId, job, node, rec)) {
            rec |= BOUNTY_SETTLED;
            settledNow = true;
        }
        if (!settledNow) revert NothingToSettle(jobId, node);
        _records[jobId][node] = rec;
    }

    /// @dev Settles one declaration: credits or slashes it and says what happened. A released
    /// or paid declaration's collateral is still locked: the caller frees it or reuses it.
    function _settle(uint256 jobId, Job storage job, address node, uint256 rec) internal returns (Outcome outcome) {
        uint256 stage = _stageOf(rec);
        uint256 attempt = _attemptOf(rec);
        outcome = _outcomeOf(jobId, job, rec);
        if (outcome == Outcome.Paid) {
            uint256 reward = job.reward;
            job.owed -= uint96(reward);
            _credit(node, reward);
            emit DeclarationRewarded(jobId, stage, node, attempt, reward);
        } else if (outcome == Outcome.Released) {
            emit DeclarationReleased(jobId, stage, node, attempt);
        } else if (outcome != Outcome.Pending) {
            uint256 amount = registry.slash(node);
            // slashed stake compensates the employer whose stage the declaration polluted
            if (amount > 0) _credit(job.employer, amount);
            SlashReason reason = outcome == Outcome.SlashedUnopened ? SlashReason.Unopened : SlashReason.Outvoted;
            emit DeclarationSlashed(jobId, stage, node, attempt, amount, reason);
        }
    }

    function _outcomeOf(uint256 jobId, Job storage job, uint256 rec) private view returns (Outcome) {
        uint256 stage = _stageOf(rec);
        uint256 attempt = _attemptOf(rec);
        bool opened = _positionOf(rec) != 0;
        if (stage > job.stagesDone) {
            // the open stage (or the one a closed job stopped at): pending while its current
            // attempt can still be opened, else that attempt ended without agreement
            if (job.status == JobStatus.Training && attempt == job.attempt) {
                if (_committing(job) || block.timestamp < _commitDeadline(job) + job.revealWindow) {
                    return Outcome.Pending;
                }
            }
            return opened ? Outcome.Released : Outcome.SlashedUnopened;
        }
        (uint256 agreedAttempt, uint256 key, uint256 revealDeadline) = _resultOf(jobId, stage);
        if (attempt != agreedAttempt) return opened ? Outcome.Released : Outcome.SlashedUnopened;
        if (!opened) return block.timestamp < revealDeadline ? Outcome.Pending : Outcome.SlashedUnopened;
        if (rec & HASH_MASK != key) return Outcome.SlashedOutvoted;
        return _positionOf(rec) <= job.confirmations ? Outcome.Paid : Outcome.Released;
    }

    /// @dev Credits the node's share of the bounty when it is due (Completed or Forfeited) and
    /// the declaration is one of the last stage's paid ones; returns whether it did.
    function _bountyShareOf(uint256 jobId, Job storage job, address node, uint256 rec) private returns (bool) {
        if (job.status != JobStatus.Completed && job.status != JobStatus.Forfeited) return false;
        uint256 stages = job.stages;
        if (_stageOf(rec) != stages) return false;
        (uint256 agreedAttempt, uint256 key,) = _resultOf(jobId, stages);
        uint256 position = _positionOf(rec);
        uint256 count = job.confirmations;
        if (_attemptOf(rec) != agreedAttempt || rec & HASH_MASK != key || position == 0 || position > count) {
            return false;
        }
        uint256 bounty = job.bounty;
        uint256 share = bounty / count;
        // the rounding remainder goes to the C-th
        if (position == count) share = bounty - share * (count - 1);
        job.owed -= uint96(share);
        _credit(node, share);
        emit BountyPaid(jobId, node, share);
        return true;
    }
}
