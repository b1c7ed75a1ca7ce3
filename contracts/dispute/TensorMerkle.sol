// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title Openings of integer tensors committed by Merkle roots
/// @notice The commitment of `zkpot/pot/merkle.py` (docs/pot.md, "Trace"): leaves of 256
/// consecutive elements, leaf = keccak256(0x00 ‖ 256 int64 big-endian words, 2,048 bytes),
/// node(l, r) = keccak256(0x01 ‖ l ‖ r),
/// a level of odd length padded with bytes32(0), root = keccak256(0x02 ‖ uint256 n ‖ top). The
/// root names the tensor's length, so an opening proves both the value and that its index lies
/// inside the tensor.
library TensorMerkle {
    /// @notice A committed tensor: its root and its number of elements.
    struct Tensor {
        bytes32 root;
        uint256 n;
    }

    /// @notice One element of a committed tensor: its index, its leaf's 2,048 bytes (the
    /// element is word `index % 256`) and the sibling hashes from the leaf up.
    struct Opening {
        uint256 index;
        bytes chunk;
        bytes32[] proof;
    }

    uint256 internal constant LEAF_SIZE = 256;
    uint256 internal constant LEAF_BYTES = 2048;

    /// @notice The opening does not prove its value at its index under the tensor's root.
    error OpeningInvalid(bytes32 root, uint256 index);

    /// @notice ceil(log2 ceil(n / 256)): the length of every opening's proof for n elements.
    function depth(uint256 n) internal pure returns (uint256 d) {
        uint256 leaves = (n + LEAF_SIZE - 1) / LEAF_SIZE;
        while ((uint256(1) << d) < leaves) ++d;
    }

    /// @notice keccak256(0x00 ‖ chunk): the hash of a leaf of `LEAF_BYTES` bytes.
    function leafHash(bytes calldata chunk) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(bytes1(0x00), chunk));
    }

    /// @notice Word `pos` (< 256) of a leaf of `LEAF_BYTES` bytes, as a signed integer.
    function valueAt(bytes calldata chunk, uint256 pos) internal pure returns (int256 v) {
        assert(chunk.length == LEAF_BYTES && pos < LEAF_SIZE);
        assembly {
            // the top 8 of the 32 bytes loaded at the word, sign-extended
            v := sar(192, calldataload(add(chunk.offset, shl(3, pos))))
        }
    }

    /// @notice True when `o` opens element `o.index` of tensor `t` (its value word `o.index % 256`
    /// of `o.chunk`).
    function verifies(Tensor memory t, Opening calldata o) internal pure returns (bool) {
        if (o.index >= t.n || o.proof.length != depth(t.n) || o.chunk.length != LEAF_BYTES) return false;
        bytes32 h = leafHash(o.chunk);
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
        return valueAt(o.chunk, o.index % LEAF_SIZE);
    }

    /// @notice The opened value at an index the caller requires (reverts `OpeningInvalid`).
    function openAt(Tensor memory t, Opening calldata o, uint256 index) internal pure returns (int256) {
        if (o.index != index) revert OpeningInvalid(t.root, o.index);
        return open(t, o);
    }
}
