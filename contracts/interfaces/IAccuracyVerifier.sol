// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title The accuracy statement a zk proof proves
/// @notice Adapts ezkl's Halo2 verifier (`verifyProof(bytes, uint256[])`) to what the escrow
/// checks. The escrow never trusts the proof's public instances directly: it compares the
/// returned statement with what the job stores (shard commitment, final model commitment,
/// threshold).
interface IAccuracyVerifier {
    /// @notice Verifies `proof` over `instances` and returns the statement it proves.
    /// @dev Reverts on an invalid proof.
    /// @param proof ezkl proof bytes (the shard's and the weights' KZG commitments open it)
    /// @param instances the proof's public instances, as ezkl lays them out
    /// @return testSetCommitment keccak256 of the test-set shard's commitment bytes
    /// @return modelCommitment h_W: keccak256 of the KZG commitment of the quantised weights
    /// @return correctCount number of correctly classified samples of the shard
    function verifyAccuracy(bytes calldata proof, uint256[] calldata instances)
        external
        returns (bytes32 testSetCommitment, uint256 modelCommitment, uint256 correctCount);
}
