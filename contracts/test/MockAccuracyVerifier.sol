// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IAccuracyVerifier} from "../interfaces/IAccuracyVerifier.sol";

/// @title Test double: a "proof" is abi.encode(testSetCommitment, modelCommitment, correctCount)
/// @dev Contract unit tests only. A proof whose first word is zero is invalid (reverts).
contract MockAccuracyVerifier is IAccuracyVerifier {
    /// @notice The proof is not 96 bytes, or states a zero test-set commitment.
    error ProofInvalid();

    /// @inheritdoc IAccuracyVerifier
    function verifyAccuracy(bytes calldata proof, uint256[] calldata)
        external
        pure
        returns (bytes32 testSetCommitment, uint256 modelCommitment, uint256 correctCount)
    {
        if (proof.length != 96) revert ProofInvalid();
        (testSetCommitment, modelCommitment, correctCount) = abi.decode(proof, (bytes32, uint256, uint256));
        if (testSetCommitment == bytes32(0)) revert ProofInvalid();
    }
}
