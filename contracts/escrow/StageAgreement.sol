// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {JobLedger} from "./JobLedger.sol";

/// @title Agreement counts of a stage's declarations, per (weightsHash, modelCommitment) pair
/// @dev The (C+1)-th agreeing declaration is refused at declare time, so every pair needs a
/// counter. The open stage's first two pairs are counted in slots the job already owns
/// (`leadPair`/`leadAgreement` and `runnerPair`, made non-zero by `createJob`), so a node's first
/// declaration in a job, which creates the node's record, creates no second slot unless two
/// other pairs were declared in the stage before it.
abstract contract StageAgreement is JobLedger {
    // jobId => stage => keccak(weightsHash, modelCommitment) => agreeing declarations, for every
    // pair of a stage but its first two (counted in the job's `leadAgreement` and `runnerPair`)
    mapping(uint256 => mapping(uint256 => mapping(bytes32 => uint256))) private _agreement;
    // `runnerPair` layout: pair (top 224 bits) ‖ stage (16 bits) ‖ agreeing declarations (16 bits)
    uint256 private constant RUNNER_TAG_SHIFT = 32;
    uint256 private constant RUNNER_STAGE_SHIFT = 16;
    uint256 private constant RUNNER_COUNT_MASK = 0xffff;

    /// @dev Counts one more declaration of (weightsHash, modelCommitment) in the open `stage`,
    /// refusing the (C+1)-th: the stage's first pair in `leadAgreement`, its second in
    /// `runnerPair` (its stage field tells whether it is taken), any other in `_agreement`.
    function _agree(
        uint256 jobId,
        Job storage job,
        uint256 stage,
        bytes32 weightsHash,
        uint256 modelCommitment,
        uint256 before
    ) internal returns (uint256 agreeing) {
        bytes32 key = keccak256(abi.encode(weightsHash, modelCommitment));
        if (before == 0 || _isLead(job, key)) {
            agreeing = before == 0 ? 1 : uint256(job.leadAgreement) + 1;
            if (agreeing > job.confirmations) revert AgreementReached(jobId, stage, weightsHash);
            if (before == 0) (job.leadPair, job.leadTag) = (key, uint16(uint256(key) >> 240));
            job.leadAgreement = uint16(agreeing);
            return agreeing;
        }
        uint256 runner = job.runnerPair;
        bool runnerFree = (runner >> RUNNER_STAGE_SHIFT) & RUNNER_COUNT_MASK != stage;
        if (runnerFree || _isRunner(runner, stage, key)) {
            agreeing = runnerFree ? 1 : (runner & RUNNER_COUNT_MASK) + 1;
            if (agreeing > job.confirmations) revert AgreementReached(jobId, stage, weightsHash);
            job.runnerPair = (uint256(key) >> RUNNER_TAG_SHIFT << RUNNER_TAG_SHIFT)
                | (stage << RUNNER_STAGE_SHIFT) | agreeing;
            return agreeing;
        }
        agreeing = _agreement[jobId][stage][key] + 1;
        if (agreeing > job.confirmations) revert AgreementReached(jobId, stage, weightsHash);
        _agreement[jobId][stage][key] = agreeing;
    }

    /// @dev Declarations of the open `stage` agreeing on the pair `key`.
    function _agreementOf(uint256 jobId, Job storage job, uint256 stage, bytes32 key)
        internal
        view
        returns (uint256)
    {
        if (job.declarations > 0 && _isLead(job, key)) return job.leadAgreement;
        uint256 runner = job.runnerPair;
        if (_isRunner(runner, stage, key)) return runner & RUNNER_COUNT_MASK;
        return _agreement[jobId][stage][key];
    }

    /// @dev Whether `runner` (a `runnerPair` value) counts the pair `key` in `stage`.
    function _isRunner(uint256 runner, uint256 stage, bytes32 key) private pure returns (bool) {
        return (runner >> RUNNER_STAGE_SHIFT) & RUNNER_COUNT_MASK == stage
            && runner >> RUNNER_TAG_SHIFT == uint256(key) >> RUNNER_TAG_SHIFT;
    }

    /// @dev Whether `key` is the open stage's first pair (once the stage has a declaration).
    function _isLead(Job storage job, bytes32 key) internal view returns (bool) {
        return job.leadTag == uint16(uint256(key) >> 240) && job.leadPair == key;
    }
}
