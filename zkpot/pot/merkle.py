"""Merkle commitments to integer tensors, as the dispute contracts verify them (docs/pot.md, "Trace").

A tensor of n integers (|v| < 2^255), flattened in C order, is cut into leaves of ``LEAF_SIZE``
(64) consecutive elements (the last one padded with zeros) and committed by

- leaf(c)         = keccak256(0x00 || int256(c_0) || ... || int256(c_63))   (32-byte two's
  complement words, big-endian: Solidity's ``abi.encodePacked(bytes1(0), int256[64])``)
- node(l, r)      = keccak256(0x01 || l || r)
- the tree over the ceil(n / 64) leaves, each level of odd length padded with bytes32(0),
  d = ceil(log2 ceil(n / 64)) levels, and
- root            = keccak256(0x02 || uint256(n) || top)

so a root names its length, and a leaf can never pass for a node (the prefixes differ). The
honest side of a dispute roots a dozen large tensors (states of 470,000 values, the stage's
inputs, a batch's operations), so the hashing is what it pays: 64 values a leaf make about 2
hashes per 64 values instead of 2 per 16, and leaves of 2,049 bytes are hashed on two threads
(the hasher lets go of the interpreter above 2,048 bytes), for 2 KB of call data per opening.
An opening of element i is its leaf's 64 values and the d sibling hashes from the leaf up; the
contract (``contracts/dispute/TensorMerkle.sol``) recomputes the root from them. Pure: no web3,
no torch.
"""

from __future__ import annotations

from dataclasses import dataclass

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from zkpot.hashing import _hasher, keccak

EMPTY = bytes(32)
LEAF, NODE, ROOT = b"\x00", b"\x01", b"\x02"
LEAF_SIZE = 64
THREADED_LEAVES = 2048           # a tensor of more leaves hashes them on two threads
VALUE_BOUND = 2**255


def _word(v: int) -> bytes:
    if not -VALUE_BOUND <= v < VALUE_BOUND:
        raise ValueError(f"value {v} does not fit an int256")
    return (v % 2**256).to_bytes(32, "big")


def leaf_hash(chunk) -> bytes:
    """keccak256(0x00 || the leaf's 64 values as int256 words), zeros after a short chunk."""
    values = [int(v) for v in chunk]
    if len(values) > LEAF_SIZE:
        raise ValueError(f"a leaf holds at most {LEAF_SIZE} values")
    values += [0] * (LEAF_SIZE - len(values))
    return keccak(LEAF + b"".join(_word(v) for v in values))


def depth(n: int) -> int:
    """Levels of the tree over the leaves of n >= 1 elements: ceil(log2 ceil(n / 64))."""
    if n < 1:
        raise ValueError("a tensor commitment needs at least one element")
    return (-(-n // LEAF_SIZE) - 1).bit_length()


def _leaves(values: np.ndarray) -> list[bytes]:
    flat = np.asarray(values).reshape(-1)
    if flat.dtype.kind == "f":
        if not np.all(flat == np.floor(flat)):
            raise ValueError("a committed tensor holds integers only")
        flat = flat.astype(np.int64)
    count = -(-flat.size // LEAF_SIZE)
    if flat.dtype.kind in "iu" and flat.dtype.itemsize <= 8:
        # int64 as 32-byte two's complement words: three big-endian sign words (0 or -1), the value
        padded = np.zeros(count * LEAF_SIZE, dtype=np.int64)
        padded[:flat.size] = flat
        words = np.empty((padded.size, 4), dtype=">i8")
        words[:, 3] = padded
        words[:, :3] = (padded >> 63)[:, None]
        raw, size = words.tobytes(), 32 * LEAF_SIZE
        return _hash_leaves(raw, size, count)
    vals = flat.tolist()
    return [leaf_hash(vals[i:i + LEAF_SIZE]) for i in range(0, len(vals), LEAF_SIZE)]


def _hash_leaves(raw: bytes, size: int, count: int) -> list[bytes]:
    new = _hasher

    def run(first: int, last: int) -> list[bytes]:
        return [new(LEAF + raw[i:i + size]).digest() for i in range(first * size, last * size, size)]

    if count < THREADED_LEAVES:
        return run(0, count)
    half = count // 2
    with ThreadPoolExecutor(2) as pool:
        a, b = pool.submit(run, 0, half), pool.submit(run, half, count)
        return a.result() + b.result()


@dataclass(frozen=True)
class TensorTree:
    """A committed tensor: its root, length and every level (for openings)."""

    root: bytes
    n: int
    levels: tuple[tuple[bytes, ...], ...]
    values: np.ndarray            # flat, C order

    def chunk(self, index: int) -> list[int]:
        """The 64 values of the leaf that holds element ``index`` (zeros past the end)."""
        start = index - index % LEAF_SIZE
        out = [int(v) for v in self.values[start:start + LEAF_SIZE].tolist()]
        return out + [0] * (LEAF_SIZE - len(out))

    def proof(self, index: int) -> list[bytes]:
        """The sibling hashes of the leaf that holds element ``index``, from its level up."""
        if not 0 <= index < self.n:
            raise IndexError(f"element {index} of a tensor of {self.n}")
        out, index = [], index // LEAF_SIZE
        for level in self.levels[:-1]:
            sibling = index ^ 1
            out.append(level[sibling] if sibling < len(level) else EMPTY)
            index >>= 1
        return out


def tree(values) -> TensorTree:
    """The commitment of an integer tensor (any shape, flattened in C order)."""
    arr = np.asarray(values)
    level = _leaves(arr)
    n = arr.size
    levels = [tuple(level)]
    new = _hasher
    for _ in range(depth(n)):
        if len(level) % 2:
            level = level + [EMPTY]
        level = [new(NODE + level[i] + level[i + 1]).digest() for i in range(0, len(level), 2)]
        levels.append(tuple(level))
    top = levels[-1][0]
    flat = arr.reshape(-1)
    flat = flat.astype(np.int64) if flat.dtype.kind == "f" else flat
    return TensorTree(keccak(ROOT + n.to_bytes(32, "big") + top), n, tuple(levels), flat)


def root(values) -> bytes:
    """The root of an integer tensor's commitment."""
    return tree(values).root


def root_from(n: int, index: int, chunk, proof: list[bytes]) -> bytes:
    """The root that an opening of element ``index`` (its leaf's values, its proof) implies."""
    h, index = leaf_hash(chunk), index // LEAF_SIZE
    for sibling in proof:
        h = keccak(NODE + sibling + h) if index & 1 else keccak(NODE + h + sibling)
        index >>= 1
    return keccak(ROOT + n.to_bytes(32, "big") + h)


def verify(root_: bytes, n: int, index: int, chunk, proof: list[bytes]) -> bool:
    """True when ``chunk`` is the leaf holding element ``index`` of the tensor of n elements
    committed by root_ (its value: ``chunk[index % 16]``)."""
    if not 0 <= index < n or len(proof) != depth(n) or len(chunk) != LEAF_SIZE:
        return False
    return root_from(n, index, chunk, proof) == root_
