// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IJobEscrow} from "../interfaces/IJobEscrow.sol";
import {JobLedger} from "./JobLedger.sol";

/// @title The records of stage declarations, the attempts' phases and the final stages
/// @dev One slot per (job, node) holds the node's latest declaration in the job, one slot per
/// final stage its result. The open stage's current attempt lives in the job's first slot.
abstract contract StageAttempts is JobLedger {
    // a declaration record: stage ‖ attempt ‖ position ‖ flags ‖ 192-bit hash (the commitment
    // until it is opened, then the opened values' key)
    uint256 internal constant STAGE_SHIFT = 240;
    uint256 internal constant ATTEMPT_SHIFT = 224;
    uint256 internal constant POSITION_SHIFT = 216;
    uint256 internal constant SETTLED = 1 << 208;
    uint256 internal constant BOUNTY_SETTLED = 1 << 209;
    uint256 internal constant HASH_MASK = type(uint192).max;
    // the position of an opening made after others finalised the stage: never among the paid
    uint256 internal constant LATE = 255;
    // a stage result: revealDeadline (40 bits) ‖ attempt (16 bits) ‖ 192-bit key; a stage's
    // first declaration makes its slot non-zero (this placeholder), so the finalising opening
    // rewrites a slot (5k gas) instead of creating one (22k)
    uint256 private constant RESULT_ATTEMPT_SHIFT = 192;
    uint256 private constant RESULT_DEADLINE_SHIFT = 208;
    uint256 private constant RESULT_UNSET = 1;
    // the employer's createJob makes the first stages' result slots (22k gas each), so that no
    // node's declaration or finalising opening pays for one; later stages' first declarations do
    uint256 internal constant PREPAID_RESULTS = 32;

    mapping(uint256 jobId => mapping(address node => uint256)) internal _records;
    mapping(uint256 jobId => mapping(uint256 stage => uint256)) internal _results;

    /// @inheritdoc IJobEscrow
    function commitmentOf(bytes32 rho, bytes32 weightsHash, uint256 modelCommitment, bytes32 rand, address node)
        public
        pure
        returns (bytes32)
    {
        // bound to the declarer's address: a copied declaration never opens for the copier
        return keccak256(abi.encodePacked(rho, weightsHash, modelCommitment, rand, node));
    }

    /// @inheritdoc IJobEscrow
    function openingKey(bytes32 rho, bytes32 weightsHash, uint256 modelCommitment, string calldata cid)
        public
        pure
        returns (bytes32)
    {
        return _openingKey(rho, weightsHash, modelCommitment, keccak256(bytes(cid)));
    }

    function _openingKey(bytes32 rho, bytes32 weightsHash, uint256 modelCommitment, bytes32 cidHash)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(abi.encodePacked(rho, weightsHash, modelCommitment, cidHash));
    }

    /// @inheritdoc IJobEscrow
    function attemptOf(uint256 jobId) external view returns (AttemptView memory v) {
        Job storage job = _jobs[jobId];
        if (job.status != JobStatus.Training) return v;
        v.stage = uint256(job.stagesDone) + 1;
        v.attempt = job.attempt;
        v.declarations = job.declarations;
        v.maxDeclarations = 2 * uint256(job.confirmations) - 1;
        v.leadOpenings = job.leadOpenings;
        v.start = job.attemptStart;
        if (_committing(job)) {
            v.phase = StagePhase.Commit;
            if (job.declarations == 0 && block.timestamp >= v.start + job.commitWindow) {
                v.start = block.timestamp; // nobody declared in time: the next declaration restarts it
            }
            v.commitDeadline = v.start + job.commitWindow;
            v.revealDeadline = v.commitDeadline + job.revealWindow;
            return v;
        }
        v.commitDeadline = _commitDeadline(job);
        v.revealDeadline = v.commitDeadline + job.revealWindow;
        v.phase = block.timestamp < v.revealDeadline ? StagePhase.Reveal : StagePhase.Ended;
    }

    /// @inheritdoc IJobEscrow
    function declarationOf(uint256 jobId, address node) external view returns (DeclarationView memory v) {
        uint256 rec = _records[jobId][node];
        v.stage = rec >> STAGE_SHIFT;
        v.attempt = _attemptOf(rec);
        v.hash = bytes24(uint192(rec));
        v.position = _positionOf(rec);
        v.settled = rec & SETTLED != 0;
        v.bountySettled = rec & BOUNTY_SETTLED != 0;
    }

    /// @inheritdoc IJobEscrow
    function stageResult(uint256 jobId, uint256 stage) external view returns (StageResult memory r) {
        uint256 result = _results[jobId][stage];
        if (result <= RESULT_UNSET) return r;
        r.attempt = (result >> RESULT_ATTEMPT_SHIFT) & 0xffff;
        r.key = bytes24(uint192(result));
        r.revealDeadline = result >> RESULT_DEADLINE_SHIFT;
    }

    /// @dev Whether the open stage's current attempt takes declarations now: its commit phase
    /// neither closed by count nor by time, or closed by time with none (then it restarts).
    function _committing(Job storage job) internal view returns (bool) {
        if (job.commitClosedAt != 0) return false;
        return job.declarations == 0 || block.timestamp < uint256(job.attemptStart) + job.commitWindow;
    }

    /// @dev When the current attempt's commit phase closed (or closes).
    function _commitDeadline(Job storage job) internal view returns (uint256) {
        uint256 closed = job.commitClosedAt;
        return closed != 0 ? closed : uint256(job.attemptStart) + job.commitWindow;
    }

    function _prepareStages(uint256 jobId, uint256 stages) internal override {
        uint256 prepaid = stages < PREPAID_RESULTS ? stages : PREPAID_RESULTS;
        for (uint256 stage = 1; stage <= prepaid; ++stage) {
            _results[jobId][stage] = RESULT_UNSET;
        }
    }

    /// @dev Makes the slot a stage's result will take exist (for the stages `createJob` did not
    /// prepare, at their first declaration).
    function _reserveResult(uint256 jobId, uint256 stage) internal {
        if (_results[jobId][stage] == 0) _results[jobId][stage] = RESULT_UNSET;
    }

    function _recordResult(uint256 jobId, uint256 stage, uint256 attempt, bytes32 key, uint256 revealDeadline)
        internal
    {
        _results[jobId][stage] = (revealDeadline << RESULT_DEADLINE_SHIFT) | (attempt << RESULT_ATTEMPT_SHIFT)
            | _hash192(key);
    }

    /// @dev The final stage's agreed attempt, key (192 bits) and reveal deadline; (0, 0, 0) if not final.
    function _resultOf(uint256 jobId, uint256 stage)
        internal
        view
        returns (uint256 attempt, uint256 key, uint256 revealDeadline)
    {
        uint256 result = _results[jobId][stage];
        if (result <= RESULT_UNSET) return (0, 0, 0);
        return ((result >> RESULT_ATTEMPT_SHIFT) & 0xffff, result & HASH_MASK, result >> RESULT_DEADLINE_SHIFT);
    }

    function _stageOf(uint256 rec) internal pure returns (uint256) {
        return rec >> STAGE_SHIFT;
    }

    function _attemptOf(uint256 rec) internal pure returns (uint256) {
        return (rec >> ATTEMPT_SHIFT) & 0xffff;
    }

    function _positionOf(uint256 rec) internal pure returns (uint256) {
        return (rec >> POSITION_SHIFT) & 0xff;
    }

    function _hash192(bytes32 h) internal pure returns (uint256) {
        return uint256(h) >> 64;
    }
}
