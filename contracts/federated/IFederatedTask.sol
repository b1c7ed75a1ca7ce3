// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAccuracyVerifier} from "../interfaces/IAccuracyVerifier.sol";

/// @title Federated training tasks paid by zk-proven accuracy (ZKPoT)
/// @notice An employer escrows rewards for `rounds` rounds of federated training. In each
/// round a participant trains the round's global model on private data and submits a zk proof
/// that its update, known only by its KZG commitment, classifies at least `threshold` of
/// the task's committed test samples correctly, with the update encrypted to the employer's
/// X25519 key and stored by CID. Only proven updates are accepted and paid; the employer
/// aggregates them off-chain and closes the round with the new global model's commitment.
/// @dev A proof does not depend on its sender, so an update is submitted in two steps bound to
/// the sender: `commitUpdate` stores keccak256(abi.encodePacked(taskId, round, participant,
/// modelCommitment, keccak256(bytes(encryptedUpdateCid)))) under the sender, and
/// `submitUpdate` (the reveal) is accepted only in a later block than that commitment and only
/// if it opens it. A copier who reads the proofs of a pending reveal has no commitment of its
/// own to open, and cannot mine one ahead of the reveal. Reward of an accepted update = rewardPerUpdate * correctCount / sampleCount (pro rata
/// to proven accuracy). Escrow = rounds * maxUpdatesPerRound * rewardPerUpdate; what is not
/// earned returns to the employer when the last round closes or after the deadline.
interface IFederatedTask {
    enum TaskStatus {
        None,
        Active,
        Completed,
        Refunded
    }

    /// @notice What the employer fixes when creating a task.
    struct TaskParams {
        IAccuracyVerifier verifier; // the circuit's verifier
        bytes32[] testSetCommitments; // one per test-set shard (one proof per shard)
        string manifestCid; // architecture, shard size and the test set participants prove on
        uint256 sampleCount; // N: test samples over all shards
        uint256 threshold; // θ as a correct-count over all shards, 1 <= threshold <= N
        uint32 rounds;
        uint32 maxUpdatesPerRound;
        uint256 rewardPerUpdate; // paid in full for an update proven correct on all N
        bytes32 encryptionKey; // employer's X25519 public key
        uint256 initialModelCommitment; // h_W (KZG commitment) of round 0's global model
        string initialModelCid;
        uint64 deadline;
    }

    struct Task {
        address employer;
        TaskStatus status;
        uint32 rounds;
        uint32 round; // the open round
        uint32 maxUpdatesPerRound;
        uint64 deadline;
        IAccuracyVerifier verifier;
        bytes32 encryptionKey;
        uint256 sampleCount;
        uint256 threshold;
        uint256 rewardPerUpdate;
        uint256 escrow; // held for this task, not yet credited to anyone
    }

    event TaskCreated(
        uint256 indexed taskId,
        address indexed employer,
        address verifier,
        uint32 rounds,
        uint256 threshold,
        uint256 escrow,
        bytes32 encryptionKey,
        string manifestCid
    );
    event UpdateAccepted(
        uint256 indexed taskId,
        uint32 indexed round,
        address indexed participant,
        uint256 modelCommitment,
        uint256 correctCount,
        uint256 reward,
        string encryptedUpdateCid
    );
    event UpdateCommitted(
        uint256 indexed taskId, uint32 indexed round, address indexed participant, bytes32 commitment
    );
    event RoundClosed(
        uint256 indexed taskId, uint32 indexed round, uint256 modelCommitment, string modelCid, uint32 updates
    );
    event TaskCompleted(uint256 indexed taskId, uint256 refunded);
    event TaskRefunded(uint256 indexed taskId, uint256 refunded);

    error EscrowMismatch(uint256 expected, uint256 sent);
    error ThresholdInvalid(uint256 threshold, uint256 sampleCount);
    error ShardsMissing();
    error RoundsInvalid(uint32 rounds, uint32 maxUpdatesPerRound);
    error DeadlineInvalid(uint64 deadline);
    error EncryptionKeyMissing();
    error TaskNotActive(uint256 taskId);
    error TaskExpired(uint256 taskId, uint64 deadline);
    error TaskNotExpired(uint256 taskId, uint64 deadline);
    error CallerNotEmployer(address caller);
    error RoundNotOpen(uint32 round, uint32 openRound);
    error RoundFull(uint32 round);
    error UpdateAlreadySubmitted(address participant, uint32 round);
    error ShardCountMismatch(uint256 proofs, uint256 shards);
    error TestSetMismatch(uint256 shard, bytes32 testSetCommitment);
    error ModelCommitmentMismatch(uint256 shard, uint256 modelCommitment);
    error ModelCommitmentReused(uint256 modelCommitment);
    error AccuracyBelowThreshold(uint256 correctCount, uint256 threshold);
    error CommitTooLate(uint256 taskId, uint64 lastCommitTime);
    error UpdateNotCommitted(address participant, uint32 round);
    error RevealTooEarly(uint64 commitBlock);
    error UpdateCommitmentMismatch(bytes32 committed, bytes32 revealed);

    /// @notice Create a task; msg.value must equal rounds * maxUpdatesPerRound * rewardPerUpdate.
    /// The deadline must leave more than the reveal window (`REVEAL_WINDOW`) from now.
    function createTask(TaskParams calldata params) external payable returns (uint256 taskId);

    /// @notice Commit to the update the sender will submit in the open round: `commitment` =
    /// `updateCommitment(taskId, round, msg.sender, modelCommitment, encryptedUpdateCid)`.
    /// Accepted until `REVEAL_WINDOW` before the deadline, so every commitment has that long to
    /// be revealed. A new commitment replaces the sender's previous one of the round (and must
    /// again wait a block). Reserves no slot: the round's cap applies when updates are revealed.
    function commitUpdate(uint256 taskId, uint32 round, bytes32 commitment) external;

    /// @notice Submit (reveal) an update for the open round: one proof per test-set shard, all
    /// for the same model commitment; accepted only if the sender committed to exactly this
    /// model commitment and CID in this round in an earlier block, every proof verifies on its
    /// shard's commitment, the summed count reaches θ, the commitment is new in this task and is
    /// not the round's global model, and the sender has not submitted in this round. Credits
    /// the reward. Commitments not revealed when the round closes lapse.
    function submitUpdate(
        uint256 taskId,
        uint32 round,
        bytes[] calldata proofs,
        uint256[][] calldata instances,
        string calldata encryptedUpdateCid
    ) external;

    /// @notice The employer closes the open round by publishing the aggregated global model.
    function closeRound(uint256 taskId, uint32 round, uint256 modelCommitment, string calldata modelCid) external;

    /// @notice After the deadline the employer reclaims the escrow not yet earned.
    function refund(uint256 taskId) external;

    function getTask(uint256 taskId) external view returns (Task memory);
    function testSetCommitments(uint256 taskId) external view returns (bytes32[] memory);
    function manifestCid(uint256 taskId) external view returns (string memory);
    /// @notice The global model participants start round `round` from.
    function globalModel(uint256 taskId, uint32 round) external view returns (uint256 commitment, string memory cid);
    function updateCount(uint256 taskId, uint32 round) external view returns (uint32);
    function hasSubmitted(uint256 taskId, uint32 round, address participant) external view returns (bool);
    /// @notice The sender-bound commitment `commitUpdate` expects for an update.
    function updateCommitment(
        uint256 taskId,
        uint32 round,
        address participant,
        uint256 modelCommitment,
        string calldata encryptedUpdateCid
    ) external pure returns (bytes32);
    /// @notice The participant's unrevealed commitment in `round` and the block it was mined in
    /// (zero when there is none, or once it is revealed).
    function committedUpdate(uint256 taskId, uint32 round, address participant)
        external
        view
        returns (bytes32 commitment, uint64 blockNumber);
    /// @notice Whether an accepted update of this task already carried `modelCommitment`.
    function isModelCommitmentUsed(uint256 taskId, uint256 modelCommitment) external view returns (bool);
    function taskCount() external view returns (uint256);
    /// @notice Commitments close this long before the deadline: the time a commitment has, at
    /// least, to be revealed.
    function REVEAL_WINDOW() external view returns (uint64);
}
