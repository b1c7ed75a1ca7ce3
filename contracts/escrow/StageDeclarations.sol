// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {IJobEscrow} from "../interfaces/IJobEscrow.sol";
import {StageAgreement} from "./StageAgreement.sol";

/// @title Proof of Training stages: commit–reveal declarations, agreement, reward and slashing
/// @dev Stage i of a job takes declarations while it is open (`stagesDone + 1`); C agreeing
/// ones let one of their nodes reveal the training secret, which finalises the stage, credits
/// the matching declarations and slashes the others. The last stage's matching nodes are the
/// job's finalists.
abstract contract StageDeclarations is StageAgreement {
    // a declaration record: stage in the top 32 bits, finalist flag, then a truncated hash
    uint256 private constant STAGE_SHIFT = 224;
    uint256 private constant FINALIST = 1 << 223;
    uint256 private constant HASH_MASK = FINALIST - 1;

    // jobId => node => record of its latest declaration in the job
    mapping(uint256 => mapping(address => uint256)) private _records;

    /// @inheritdoc IJobEscrow
    function declare(
        uint256 jobId,
        uint256 stage,
        bytes32 weightsHash,
        uint256 modelCommitment,
        bytes32 commitment,
        bytes32 rand
    ) external {
        Job storage job = _jobs[jobId];
        _requireOpen(jobId, job, stage);
        if (_records[jobId][msg.sender] >> STAGE_SHIFT == stage) {
            revert DeclarationDuplicated(jobId, stage, msg.sender);
        }
        uint256 before = job.declarations;
        uint256 agreeing = _agree(jobId, job, stage, weightsHash, modelCommitment, before);
        job.declarations = uint16(before + 1);
        _records[jobId][msg.sender] = (stage << STAGE_SHIFT) | _recordHash(weightsHash, modelCommitment, commitment, rand);
        // reverts for unregistered or exiting nodes; keeps the stake until the deadline
        registry.lockStake(msg.sender, job.deadline);
        emit StageDeclared(jobId, stage, msg.sender, weightsHash, modelCommitment, commitment, rand);
        if (agreeing == 1 && before > 0) emit StageConflicted(jobId, stage, msg.sender, weightsHash, modelCommitment);
        if (agreeing == job.confirmations) emit StageAgreed(jobId, stage, weightsHash, modelCommitment);
    }

    /// @inheritdoc IJobEscrow
    function reveal(uint256 jobId, uint256 stage, bytes32 rho, string calldata cid, Declaration[] calldata decls)
        external
    {
        Job storage job = _jobs[jobId];
        _requireOpen(jobId, job, stage);
        if (decls.length != job.declarations) revert DeclarationsIncomplete(jobId, stage, job.declarations, decls.length);
        Declaration calldata mine = _revealerOf(jobId, stage, rho, decls);
        bytes32 key = keccak256(abi.encode(mine.weightsHash, mine.modelCommitment));
        uint256 confirmations = job.confirmations;
        {
            uint256 agreeing = _agreementOf(jobId, job, stage, key);
            if (agreeing != confirmations) revert AgreementMissing(jobId, stage, agreeing);
        }

        uint256 matched = _countMatching(jobId, stage, key, rho, decls);
        // a lone copier of the agreed hashes must not be able to slash the honest majority
        if (matched * 2 <= confirmations) revert MajorityMissing(jobId, stage, matched, confirmations);
        _finalise(job, stage, matched, mine);
        emit StageFinalised(jobId, stage, msg.sender, mine.weightsHash, mine.modelCommitment, rho, cid, matched);
        _pay(jobId, stage, key, rho, decls);
    }

    /// @inheritdoc IJobEscrow
    function commitmentOf(bytes32 rho, bytes32 rand, address node) public pure returns (bytes32) {
        return keccak256(abi.encodePacked(rho, rand, node));
    }

    /// @inheritdoc IJobEscrow
    function declarationOf(uint256 jobId, address node)
        external
        view
        returns (uint256 stage, bytes32 recordHash, bool finalist)
    {
        uint256 record = _records[jobId][node];
        return (record >> STAGE_SHIFT, bytes32(record & HASH_MASK), record & FINALIST != 0);
    }

    /// @inheritdoc IJobEscrow
    function agreementOf(uint256 jobId, uint256 stage, bytes32 weightsHash, uint256 modelCommitment)
        external
        view
        returns (uint256)
    {
        Job storage job = _jobs[jobId];
        if (job.status != JobStatus.Training || stage != uint256(job.stagesDone) + 1) return 0;
        return _agreementOf(jobId, job, stage, keccak256(abi.encode(weightsHash, modelCommitment)));
    }

    function _isFinalist(uint256 jobId, address node) internal view override returns (bool) {
        return _records[jobId][node] & FINALIST != 0;
    }

    /// @dev `stage` takes declarations and its reveal: the job trains, before its deadline,
    /// and `stage` is the one after the last final stage.
    function _requireOpen(uint256 jobId, Job storage job, uint256 stage) private view {
        _requireStatus(jobId, job, JobStatus.Training);
        if (block.timestamp >= job.deadline) revert DeadlinePassed(jobId, job.deadline);
        if (stage != uint256(job.stagesDone) + 1) revert StageNotOpen(jobId, stage, uint256(job.stagesDone) + 1);
    }

    /// @dev Finds the caller's declaration; its commitment must open with `rho`.
    function _revealerOf(uint256 jobId, uint256 stage, bytes32 rho, Declaration[] calldata decls)
        private
        view
        returns (Declaration calldata)
    {
        for (uint256 i; i < decls.length; ++i) {
            if (decls[i].node == msg.sender) {
                if (commitmentOf(rho, decls[i].rand, msg.sender) != decls[i].commitment) {
                    revert SecretMismatch(jobId, stage, msg.sender);
                }
                return decls[i];
            }
        }
        revert RevealerNotDeclarer(jobId, stage, msg.sender);
    }

    function _matches(Declaration calldata d, bytes32 key, bytes32 rho) private pure returns (bool) {
        // bound to the declarer's address: a copied commitment never opens for the copier
        return keccak256(abi.encode(d.weightsHash, d.modelCommitment)) == key
            && commitmentOf(rho, d.rand, d.node) == d.commitment;
    }

    /// @dev Checks every declaration is the one on record (each node once) and counts those
    /// that agree on `key` and open with `rho`.
    function _countMatching(uint256 jobId, uint256 stage, bytes32 key, bytes32 rho, Declaration[] calldata decls)
        private
        view
        returns (uint256 matched)
    {
        address previous;
        for (uint256 i; i < decls.length; ++i) {
            Declaration calldata d = decls[i];
            if (d.node <= previous) revert DeclarationsUnordered(jobId, d.node);
            previous = d.node;
            uint256 record = _records[jobId][d.node];
            if (
                record >> STAGE_SHIFT != stage
                    || record & HASH_MASK != _recordHash(d.weightsHash, d.modelCommitment, d.commitment, d.rand)
            ) revert DeclarationUnknown(jobId, stage, d.node);
            if (_matches(d, key, rho)) ++matched;
        }
    }

    /// @dev Closes the open stage; after the last one the job waits for the test set.
    function _finalise(Job storage job, uint256 stage, uint256 matched, Declaration calldata mine) private {
        job.stagesDone = uint16(stage);
        job.declarations = 0;
        job.leadAgreement = 0;
        job.remaining -= uint96(job.reward * matched);
        if (stage == job.stages) {
            job.status = JobStatus.AwaitingTestSet;
            job.finalModelCommitment = mine.modelCommitment;
            job.finalists = uint8(matched);
            job.phaseDeadline = uint40(block.timestamp + job.testSetWindow);
        }
    }

    /// @dev Credits matching declarations, then slashes the others (registry call last).
    function _pay(uint256 jobId, uint256 stage, bytes32 key, bytes32 rho, Declaration[] calldata decls) private {
        Job storage job = _jobs[jobId];
        uint256 reward = job.reward;
        bool last = job.status == JobStatus.AwaitingTestSet;
        for (uint256 i; i < decls.length; ++i) {
            Declaration calldata d = decls[i];
            if (_matches(d, key, rho)) {
                _credit(d.node, reward);
                if (last) _records[jobId][d.node] |= FINALIST;
                emit DeclarationRewarded(jobId, stage, d.node, reward);
            }
        }
        for (uint256 i; i < decls.length; ++i) {
            Declaration calldata d = decls[i];
            if (!_matches(d, key, rho)) _slash(jobId, stage, job.employer, d.node);
        }
    }

    function _slash(uint256 jobId, uint256 stage, address employer, address node) private {
        uint256 amount = registry.slash(node);
        // slashed stake compensates the employer whose stage it polluted
        if (amount > 0) _credit(employer, amount);
        emit DeclarationSlashed(jobId, stage, node, amount);
    }

    function _recordHash(bytes32 weightsHash, uint256 modelCommitment, bytes32 commitment, bytes32 rand)
        private
        pure
        returns (uint256)
    {
        return uint256(keccak256(abi.encode(weightsHash, modelCommitment, commitment, rand))) & HASH_MASK;
    }
}
