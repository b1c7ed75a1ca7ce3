// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title Openings of integer tensors committed by Merkle roots
/// @notice The commitment of `zkpot/pot/merkle.py` (docs/pot.md, "Trace"): leaves of 64
/// consecutive elements, leaf = keccak256(0x00 ‖ int256[64]), node(l, r) = keccak256(0x01 ‖ l ‖ r),
/// a level of odd length padded with bytes32(0), root = keccak256(0x02 ‖ uint256 n ‖ top). The
/// root names the tensor's length, so an opening proves both the value and that its index lies
/// inside the tensor.
library TensorMerkle {
    /// @notice A committed tensor: its root and its number of elements.
    struct Tensor {
        bytes32 root;
        uint256 n;
    }

    /// @notice One element of a committed tensor: its index, the 64 values of its leaf (it is
    /// `chunk[index % 64]`) and the sibling hashes from the leaf up.
    struct Opening {
        uint256 index;
        int256[64] chunk;
        bytes32[] proof;
    }

    uint256 internal constant LEAF_SIZE = 64;

    /// @notice The opening does not prove its value at its index under the tensor's root.
    error OpeningInvalid(bytes32 root, uint256 index);

    /// @notice ceil(log2 ceil(n / 64)): the length of every opening's proof for n elements.
    function depth(uint256 n) internal pure returns (uint256 d) {
        uint256 leaves = (n + LEAF_SIZE - 1) / LEAF_SIZE;
        while ((uint256(1) << d) < leaves) ++d;
    }

    /// @notice True when `o` opens element `o.index` of tensor `t` (its value `o.chunk[o.index % 64]`).
    function verifies(Tensor memory t, Opening calldata o) internal pure returns (bool) {
        if (o.index >= t.n || o.proof.length != depth(t.n)) return false;
        bytes32 h = keccak256(abi.encodePacked(bytes1(0x00), o.chunk));
        uint256 index = o.index / LEAF_SIZE;
        for (uint256 i; i < o.proof.length; ++i) {
            // the index's bits say on which side the running hash sits at each level
            h = index & 1 == 1
                ? keccak256(abi.encodePacked(bytes1(0x01), o.proof[i], h))
                : keccak256(abi.encodePacked(bytes1(0x01), h, o.proof[i]));
            index >>= 1;
        }
        return keccak256(abi.encodePacked(bytes1(0x02), t.n, h)) == t.root;
    }

    /// @notice The opened value, after checking the opening (reverts `OpeningInvalid`).
    function open(Tensor memory t, Opening calldata o) internal pure returns (int256) {
        if (!verifies(t, o)) revert OpeningInvalid(t.root, o.index);
        return o.chunk[o.index % LEAF_SIZE];
    }

    /// @notice The opened value at an index the caller requires (reverts `OpeningInvalid`).
    function openAt(Tensor memory t, Opening calldata o, uint256 index) internal pure returns (int256) {
        if (o.index != index) revert OpeningInvalid(t.root, o.index);
        return open(t, o);
    }
}
