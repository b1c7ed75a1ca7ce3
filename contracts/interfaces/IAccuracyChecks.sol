// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title What both escrows say when an accuracy proof does not fit what was committed
/// @notice The job escrow (shard proofs of a job's final model) and the federated task (proofs
/// of an update or of a global model) refuse a misfit proof with these errors, so every client
/// decodes one selector per error. `id` is the job's or the task's id.
interface IAccuracyChecks {
    /// @notice The proof of shard `shard` states test-set commitment `proven`, not the committed `expected`.
    error TestSetMismatch(uint256 id, uint256 shard, bytes32 expected, bytes32 proven);
    /// @notice The proof is of model `proven`, not of `expected` (the job's final model, the global
    /// model being certified, or the model the update's first shard proof stated).
    error ModelMismatch(uint256 id, uint256 expected, uint256 proven);
}
