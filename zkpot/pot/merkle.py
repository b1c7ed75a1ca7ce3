"""Merkle commitments to integer tensors, as the dispute contracts verify them (docs/pot.md, "Trace").

A tensor of n integers (|v| < 2^255), flattened in C order, is committed by

- leaf(v)         = keccak256(0x00 || int256(v))   (32 bytes, two's complement, big-endian)
- node(l, r)      = keccak256(0x01 || l || r)
- the tree over the n leaves padded with bytes32(0) to 2^d leaves, d = ceil(log2 n) (d = 0 for
  n = 1), and
- root            = keccak256(0x02 || uint256(n) || top)

so a root names its length, and a leaf can never pass for a node (the prefixes differ). An
opening of element i is its value and the d sibling hashes from the leaf up; the contract
(``contracts/dispute/TensorMerkle.sol``) recomputes the root from them. Pure: no web3, no torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zkpot.hashing import keccak

EMPTY = bytes(32)
LEAF, NODE, ROOT = b"\x00", b"\x01", b"\x02"
VALUE_BOUND = 2**255


def _word(v: int) -> bytes:
    if not -VALUE_BOUND <= v < VALUE_BOUND:
        raise ValueError(f"value {v} does not fit an int256")
    return (v % 2**256).to_bytes(32, "big")


def leaf_hash(v: int) -> bytes:
    """keccak256(0x00 || int256(v))."""
    return keccak(LEAF + _word(int(v)))


def depth(n: int) -> int:
    """Levels of the tree over n >= 1 leaves: ceil(log2 n)."""
    if n < 1:
        raise ValueError("a tensor commitment needs at least one element")
    return (n - 1).bit_length()


def _leaves(values: np.ndarray) -> list[bytes]:
    flat = np.asarray(values).reshape(-1)
    if flat.dtype.kind == "f":
        if not np.all(flat == np.floor(flat)):
            raise ValueError("a committed tensor holds integers only")
        flat = flat.astype(np.int64)
    if flat.dtype.kind in "iu" and flat.dtype.itemsize <= 8:
        # int64 as 32-byte two's complement words in one numpy pass: 24 sign bytes, 8 value bytes
        words = np.zeros((flat.size, 33), dtype=np.uint8)
        be = flat.astype(">i8").view(np.uint8).reshape(-1, 8)
        words[:, 1:25] = np.where(flat < 0, 0xFF, 0)[:, None]
        words[:, 25:] = be
        raw = words.tobytes()
        return [keccak(raw[i:i + 33]) for i in range(0, len(raw), 33)]
    return [leaf_hash(int(v)) for v in flat.tolist()]


@dataclass(frozen=True)
class TensorTree:
    """A committed tensor: its root, length and every level (for openings)."""

    root: bytes
    n: int
    levels: tuple[tuple[bytes, ...], ...]

    def proof(self, index: int) -> list[bytes]:
        """The sibling hashes of element ``index``, from the leaf's level up."""
        if not 0 <= index < self.n:
            raise IndexError(f"element {index} of a tensor of {self.n}")
        out = []
        for level in self.levels[:-1]:
            sibling = index ^ 1
            out.append(level[sibling] if sibling < len(level) else EMPTY)
            index >>= 1
        return out


def tree(values) -> TensorTree:
    """The commitment of an integer tensor (any shape, flattened in C order)."""
    level = _leaves(np.asarray(values))
    n = len(level)
    levels = [tuple(level)]
    for _ in range(depth(n)):
        if len(level) % 2:
            level = level + [EMPTY]
        level = [keccak(NODE + level[i] + level[i + 1]) for i in range(0, len(level), 2)]
        levels.append(tuple(level))
    top = levels[-1][0]
    return TensorTree(keccak(ROOT + n.to_bytes(32, "big") + top), n, tuple(levels))


def root(values) -> bytes:
    """The root of an integer tensor's commitment."""
    return tree(values).root


def verify(root_: bytes, n: int, index: int, value: int, proof: list[bytes]) -> bool:
    """True when ``value`` is element ``index`` of the tensor of n elements committed by root_."""
    if not 0 <= index < n or len(proof) != depth(n):
        return False
    h = leaf_hash(value)
    for sibling in proof:
        h = keccak(NODE + sibling + h) if index & 1 else keccak(NODE + h + sibling)
        index >>= 1
    return keccak(ROOT + n.to_bytes(32, "big") + h) == root_
