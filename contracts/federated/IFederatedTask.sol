// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IAccuracyChecks} from "../interfaces/IAccuracyChecks.sol";
import {IAccuracyVerifier} from "../interfaces/IAccuracyVerifier.sol";

/// @title Federated training tasks paid by zk-proven accuracy (ZKPoT)
/// @notice An employer escrows rewards for `rounds` rounds of federated training. In each
/// round a participant trains the round's global model on private data and submits a zk proof
/// that its update, known only by its KZG commitment, classifies at least `threshold` of
/// the task's committed test samples correctly, with the update encrypted to the employer's
/// X25519 key and stored by CID. Only proven updates are accepted and paid; the employer
/// aggregates them off-chain and closes the round with the new global model's commitment.
/// @dev Rounds run in fixed phases by time, from the round's start (task creation, then each
/// `closeRound`): a commit phase of `commitWindow`, in which a participant binds its update to
/// its own address with `commitUpdate` (keccak256(abi.encodePacked(taskId, round, participant,
/// modelCommitment, keccak256(bytes(encryptedUpdateCid))))), then a reveal phase of
/// `revealWindow`, in which `submitUpdate` opens it with the proofs. A proof does not depend on
/// its sender, but by the time anyone can read a reveal the commit phase is over: a copier has
/// no commitment of its own to open. `closeRound` is taken only after the reveal phase, so no
/// pending reveal can be cut off, and `refund` only after the deadline and the open round's
/// reveal phase.
/// Rewards pay certified improvement: every global model carries a certified count b (proven
/// on the task's test set when the round that publishes it closes; 0 for an initial model
/// created without a proof). An update is accepted only if its count c reaches θ and improves
/// on the round's global model by at least `minImprovement` samples, and is paid
/// rewardPerUpdate * (c - b) / (sampleCount - b): the share of the global model's remaining
/// errors it fixes. A resubmitted global model, slightly changed, improves on nothing and is
/// refused. Escrow = rounds * maxUpdatesPerRound * rewardPerUpdate; what is not earned returns
/// to the employer when the last round closes or after the deadline.
interface IFederatedTask is IAccuracyChecks {
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
        uint32 commitWindow; // seconds of each round's commit phase
        uint32 revealWindow; // seconds of each round's reveal phase
        uint32 minImprovement; // samples an update must gain over the round's global model, >= 1
        bytes[] initialModelProofs; // the initial model's count, one proof per shard (none: count 0)
        uint256[][] initialModelInstances;
    }

    struct Task {
        address employer;
        TaskStatus status;
        uint32 rounds;
        uint32 round; // the open round
        uint32 maxUpdatesPerRound;
        uint64 deadline;
        uint64 roundStart; // when the open round's commit phase began
        uint32 commitWindow;
        uint32 revealWindow;
        uint32 minImprovement;
        IAccuracyVerifier verifier;
        bytes32 encryptionKey;
        uint256 sampleCount;
        uint256 threshold;
        uint256 rewardPerUpdate;
        uint256 escrow; // held for this task, not yet credited to anyone
    }

    /// @notice Task `taskId` was created by `employer`, escrowing `escrow` wei for `rounds` rounds; updates are
    /// encrypted to `encryptionKey` and proven by `verifier` against the test set in `manifestCid`.
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
    /// @notice `participant`'s update in `round`, known by its KZG `modelCommitment`, was proven to classify
    /// `correctCount` test samples correctly and credited `reward` wei; its ciphertext is at `encryptedUpdateCid`.
    event UpdateAccepted(
        uint256 indexed taskId,
        uint32 indexed round,
        address indexed participant,
        uint256 modelCommitment,
        uint256 correctCount,
        uint256 reward,
        string encryptedUpdateCid
    );
    /// @notice `participant` committed to an update in `round`'s commit phase (`commitment` hides
    /// the proof, its instances and the ciphertext CID until the reveal phase).
    event UpdateCommitted(
        uint256 indexed taskId, uint32 indexed round, address indexed participant, bytes32 commitment
    );
    /// @notice The round closed with the next global model, whose certified count `correctCount`
    /// is the next round's baseline.
    event RoundClosed(
        uint256 indexed taskId,
        uint32 indexed round,
        uint256 modelCommitment,
        string modelCid,
        uint32 updates,
        uint256 correctCount
    );
    /// @notice The last round closed; the `refunded` wei no update earned went back to the employer's credit.
    event TaskCompleted(uint256 indexed taskId, uint256 refunded);
    /// @notice The employer took back the `refunded` unspent wei after the deadline.
    event TaskRefunded(uint256 indexed taskId, uint256 refunded);

    /// @notice msg.value must be exactly `expected` (rounds x maxUpdatesPerRound x rewardPerUpdate).
    error EscrowMismatch(uint256 expected, uint256 sent);
    /// @notice The threshold must be at least 1 and at most the test set's `sampleCount`.
    error ThresholdInvalid(uint256 threshold, uint256 sampleCount);
    /// @notice A task needs at least one test-set shard commitment.
    error ShardsMissing();
    /// @notice Rounds and updates per round must both be at least 1.
    error RoundsInvalid(uint32 rounds, uint32 maxUpdatesPerRound);
    /// @notice The deadline must leave room for one whole round (commit and reveal phases) from now.
    error DeadlineInvalid(uint64 deadline);
    /// @notice Updates are encrypted to the employer: the encryption key cannot be zero.
    error EncryptionKeyMissing();
    /// @notice Task `taskId` does not exist, or is completed or refunded.
    error TaskNotActive(uint256 taskId);
    /// @notice A refund waits until after the task's `deadline`.
    error TaskNotExpired(uint256 taskId, uint64 deadline);
    /// @notice Only the task's employer may do this; `caller` is not (the escrow's error of the same name and arguments).
    error CallerNotEmployer(uint256 taskId, address caller);
    /// @notice `round` is not the task's open round `openRound`.
    error RoundNotOpen(uint32 round, uint32 openRound);
    /// @notice `round` already has maxUpdatesPerRound accepted updates.
    error RoundFull(uint32 round);
    /// @notice `participant` already has an accepted update in `round`.
    error UpdateAlreadySubmitted(address participant, uint32 round);
    /// @notice A global model needs one proof (and one instance list) per test-set shard: `proofs` given, `shards` committed.
    error ShardCountMismatch(uint256 proofs, uint256 shards);
    /// @notice Model `modelCommitment` was already paid in this task: a proof is paid once, whoever replays it.
    error ModelCommitmentReused(uint256 modelCommitment);
    /// @notice The update classifies `correctCount` samples correctly, fewer than the task's `threshold`.
    error AccuracyBelowThreshold(uint256 correctCount, uint256 threshold);
    /// @notice Commit and reveal windows must each be at least 1 second and at most 30 days.
    error WindowInvalid(uint32 commitWindow, uint32 revealWindow);
    /// @notice `round`'s commit phase ended at `commitEnd`.
    error CommitPhaseClosed(uint256 taskId, uint32 round, uint256 commitEnd);
    /// @notice `round`'s reveal phase starts at `revealStart` (when its commit phase ends).
    error RevealPhaseNotOpen(uint256 taskId, uint32 round, uint256 revealStart);
    /// @notice `round`'s reveal phase ended at `revealEnd`.
    error RevealPhaseClosed(uint256 taskId, uint32 round, uint256 revealEnd);
    /// @notice The round closes (or the task is refunded) only after its reveal phase ends at `revealEnd`:
    /// no pending reveal can be cut off.
    error RoundNotOver(uint256 taskId, uint32 round, uint256 revealEnd);
    /// @notice `participant` made no commitment in `round`'s commit phase.
    error UpdateNotCommitted(address participant, uint32 round);
    /// @notice What was revealed hashes to `revealed`, not to the `committed` commitment.
    error UpdateCommitmentMismatch(bytes32 committed, bytes32 revealed);
    /// @notice A commitment cannot be zero (no commitment) or the value that marks an accepted update.
    error UpdateCommitmentInvalid(bytes32 commitment);
    /// @notice The update does not gain `minImprovement` samples over the round's global model.
    error ImprovementBelowMargin(uint256 correctCount, uint256 baseline, uint256 minImprovement);
    /// @notice minImprovement must be at least 1 (a copy of the global model gains 0) and at most N.
    error MarginInvalid(uint32 minImprovement, uint256 sampleCount);
    /// @notice A new global model comes with proofs of its count (only an unchanged one carries
    /// its count over without them).
    error GlobalModelUnproven(uint256 modelCommitment);
    /// @notice A new global model must prove at least the count of the one it replaces: the
    /// baseline never falls, so no earlier (public) global model, or a perturbation of one, proves
    /// a gain over it. The employer keeps the previous model instead (no proofs).
    error GlobalModelRegressed(uint256 modelCommitment, uint256 correctCount, uint256 baseline);

    /// @notice Create a task; msg.value must equal rounds * maxUpdatesPerRound * rewardPerUpdate.
    /// Round 0's commit phase starts now; the deadline must leave room for one whole round.
    function createTask(TaskParams calldata params) external payable returns (uint256 taskId);

    /// @notice Commit to the update the sender will submit in the open round: `commitment` =
    /// `updateCommitment(taskId, round, msg.sender, modelCommitment, encryptedUpdateCid)`.
    /// In the round's commit phase only. A new commitment replaces the sender's previous one of
    /// the round. Reserves no slot: the round's cap applies when updates are revealed.
    function commitUpdate(uint256 taskId, uint32 round, bytes32 commitment) external;

    /// @notice Submit (reveal) an update for the open round, in its reveal phase: one proof per
    /// test-set shard, all for the same model commitment; accepted only if the sender committed
    /// to exactly this model commitment and CID in this round's commit phase, every proof verifies on its
    /// shard's commitment, the summed count reaches θ, the commitment is new in this task and is
    /// not the round's global model, the count gains at least minImprovement over the global
    /// model's certified count, and the sender has not submitted in this round. Credits the
    /// reward for the gain. Commitments not revealed when the round closes lapse.
    function submitUpdate(
        uint256 taskId,
        uint32 round,
        bytes[] calldata proofs,
        uint256[][] calldata instances,
        string calldata encryptedUpdateCid
    ) external;

    /// @notice The employer closes the open round, after its reveal phase, by publishing the
    /// aggregated global model with one proof of its count per shard (the next round's
    /// baseline, at least the round's own: `GlobalModelRegressed`); an unchanged global model
    /// may come without proofs and keeps its count. The next round's commit phase starts now.
    function closeRound(
        uint256 taskId,
        uint32 round,
        uint256 modelCommitment,
        string calldata modelCid,
        bytes[] calldata proofs,
        uint256[][] calldata instances
    ) external;

    /// @notice After the deadline (and the open round's reveal phase) the employer reclaims the
    /// escrow not yet earned.
    function refund(uint256 taskId) external;

    function getTask(uint256 taskId) external view returns (Task memory);
    function testSetCommitments(uint256 taskId) external view returns (bytes32[] memory);
    function manifestCid(uint256 taskId) external view returns (string memory);
    /// @notice The global model participants start round `round` from.
    function globalModel(uint256 taskId, uint32 round) external view returns (uint256 commitment, string memory cid);
    function updateCount(uint256 taskId, uint32 round) external view returns (uint32);
    /// @notice The certified count of round `round`'s global model: what its updates improve on.
    function baselineCount(uint256 taskId, uint32 round) external view returns (uint256);
    function hasSubmitted(uint256 taskId, uint32 round, address participant) external view returns (bool);
    /// @notice The sender-bound commitment `commitUpdate` expects for an update.
    function updateCommitment(
        uint256 taskId,
        uint32 round,
        address participant,
        uint256 modelCommitment,
        string calldata encryptedUpdateCid
    ) external pure returns (bytes32);
    /// @notice The participant's unrevealed commitment in `round` (zero when there is none, or
    /// once it is revealed).
    function committedUpdate(uint256 taskId, uint32 round, address participant) external view returns (bytes32);
    /// @notice The open round's phase boundaries: its start, the end of its commit phase (the
    /// reveal phase's start) and the end of its reveal phase (from when it can be closed).
    function roundPhases(uint256 taskId) external view returns (uint256 start, uint256 commitEnd, uint256 revealEnd);
    /// @notice Whether `modelCommitment` was already an accepted update or a global model of this task.
    function isModelCommitmentUsed(uint256 taskId, uint256 modelCommitment) external view returns (bool);
    function taskCount() external view returns (uint256);
}
