"""Merkle commitments to integer tensors, as the dispute contracts verify them (docs/pot.md, "Trace").

A tensor of n integers (each a signed 64-bit value), flattened in C order, is cut into leaves of
``LEAF_SIZE`` (256) consecutive elements (the last one padded with zeros) and committed by

- leaf(c)         = keccak256(0x00 || int64(c_0) || ... || int64(c_255))   (8-byte two's
  complement words, big-endian: the 2,048 bytes ``pack`` makes)
- node(l, r)      = keccak256(0x01 || l || r)
- the tree over the ceil(n / 256) leaves, each level of odd length padded with bytes32(0),
  d = ceil(log2 ceil(n / 256)) levels, and
- root            = keccak256(0x02 || uint256(n) || top)

so a root names its length, and a leaf can never pass for a node (the prefixes differ). The
honest side of a dispute roots a dozen large tensors (states of 470,000 values, the stage's
inputs, a batch's operations), so the hashing is what it pays: 8-byte words hash a quarter of
the bytes that 32-byte words would, 256 values a leaf make one leaf and about one node hash per
256 values, and leaves of 2,049 bytes are hashed on two threads (the hasher lets go of the
interpreter above 2,048 bytes), for 2 KB of call data per opening. An opening of element i is
its leaf's packed values and the d sibling hashes from the leaf up; the contract
(``contracts/dispute/TensorMerkle.sol``) recomputes the root from them. Pure: no web3, no torch.
"""

from __future__ import annotations

import numbers
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from zkpot.hashing import _hasher, keccak

EMPTY = bytes(32)
LEAF, NODE, ROOT = b"\x00", b"\x01", b"\x02"
LEAF_SIZE = 256                  # values a leaf
WORD = 8                         # bytes a value: int64, big-endian two's complement
LEAF_BYTES = LEAF_SIZE * WORD
THREADED_LEAVES = 256            # a tensor of more leaves hashes them on two threads
_BE = np.dtype(">i8")
_ROW = np.dtype([("prefix", "u1"), ("words", _BE, (LEAF_SIZE,))])     # 0x00 || a leaf: 2,049 bytes


def _int64(values) -> np.ndarray:
    """Integer values (any shape: a signed or unsigned integer array, floats holding integers,
    or Python or numpy integers in an object array) as a flat int64 array, or ``ValueError``
    naming what does not fit. Nothing is wrapped or rounded."""
    flat = np.asarray(values).reshape(-1)
    kind = flat.dtype.kind
    if kind == "f":
        if not np.all(flat == np.floor(flat)):
            raise ValueError("a committed tensor holds integers only")
        if flat.size and np.abs(flat).max() >= 2.0**63:
            raise ValueError("a committed value does not fit a signed 64-bit word")
        return flat.astype(np.int64)
    if kind == "u" and flat.dtype.itemsize == 8 and flat.size and flat.max() >= 2**63:
        raise ValueError("a committed value does not fit a signed 64-bit word")
    if kind in "iu":
        return flat.astype(np.int64, copy=False)        # any byte order; every value fits
    if kind != "O":
        raise ValueError(f"a committed tensor holds integers, not {flat.dtype}")
    out = np.empty(flat.size, dtype=np.int64)
    for i, v in enumerate(flat.tolist()):
        if not isinstance(v, numbers.Integral) or isinstance(v, (bool, np.bool_)) or not -2**63 <= v < 2**63:
            raise ValueError(f"value {v!r} is not an integer that fits a signed 64-bit word")
        out[i] = int(v)
    return out


def pack(values) -> bytes:
    """A leaf's bytes: at most 256 values as int64 big-endian words, zeros after a short chunk."""
    flat = _int64(values)
    if flat.size > LEAF_SIZE:
        raise ValueError(f"a leaf holds at most {LEAF_SIZE} values")
    padded = np.zeros(LEAF_SIZE, dtype=_BE)
    padded[:flat.size] = flat
    return padded.tobytes()


def unpack(chunk: bytes) -> list[int]:
    """The 256 values of a leaf's bytes."""
    chunk = bytes(chunk)
    if len(chunk) != LEAF_BYTES:
        raise ValueError(f"a leaf is {LEAF_BYTES} bytes, got {len(chunk)}")
    return np.frombuffer(chunk, dtype=_BE).astype(np.int64).tolist()


def leaf_hash(chunk) -> bytes:
    """keccak256(0x00 || the leaf's bytes): of ``pack``'s bytes, or of values to pack."""
    raw = bytes(chunk) if isinstance(chunk, (bytes, bytearray, memoryview)) else pack(chunk)
    if len(raw) != LEAF_BYTES:
        raise ValueError(f"a leaf is {LEAF_BYTES} bytes, got {len(raw)}")
    return keccak(LEAF + raw)


def depth(n: int) -> int:
    """Levels of the tree over the leaves of n >= 1 elements: ceil(log2 ceil(n / 256))."""
    if n < 1:
        raise ValueError("a tensor commitment needs at least one element")
    return (-(-n // LEAF_SIZE) - 1).bit_length()


def _leaves(flat: np.ndarray) -> list[bytes]:
    """The leaf hashes of a flat int64 array: one buffer of (0x00 || 2,048 bytes) rows, written
    in one pass, each row hashed from a view of it (no copy a leaf)."""
    count = -(-flat.size // LEAF_SIZE)
    rows = np.zeros(count, dtype=_ROW)                              # the prefixes and the padding: 0
    full = flat.size // LEAF_SIZE
    rows["words"][:full] = flat[:full * LEAF_SIZE].reshape(full, LEAF_SIZE)
    if full < count:                                               # the last leaf, short
        rows["words"][full, :flat.size - full * LEAF_SIZE] = flat[full * LEAF_SIZE:]
    view, size, new = memoryview(rows.view(np.uint8)), _ROW.itemsize, _hasher

    def run(first: int, last: int) -> list[bytes]:
        return [new(view[i:i + size]).digest() for i in range(first * size, last * size, size)]

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
    values: np.ndarray            # flat int64, C order

    def chunk(self, index: int) -> bytes:
        """The packed leaf (``pack``) that holds element ``index`` (zeros past the end)."""
        start = index - index % LEAF_SIZE
        return pack(self.values[start:start + LEAF_SIZE])

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
    flat = _int64(values)
    n = flat.size
    level = _leaves(flat)
    levels = [tuple(level)]
    new = _hasher
    for _ in range(depth(n)):
        if len(level) % 2:
            level = level + [EMPTY]
        level = [new(NODE + level[i] + level[i + 1]).digest() for i in range(0, len(level), 2)]
        levels.append(tuple(level))
    return TensorTree(keccak(ROOT + n.to_bytes(32, "big") + levels[-1][0]), n, tuple(levels), flat)


def root(values) -> bytes:
    """The root of an integer tensor's commitment."""
    return tree(values).root


def root_from(n: int, index: int, chunk, proof: list[bytes]) -> bytes:
    """The root that an opening of element ``index`` (its leaf, its proof) implies."""
    h, index = leaf_hash(chunk), index // LEAF_SIZE
    for sibling in proof:
        h = keccak(NODE + sibling + h) if index & 1 else keccak(NODE + h + sibling)
        index >>= 1
    return keccak(ROOT + n.to_bytes(32, "big") + h)


def verify(root_: bytes, n: int, index: int, chunk: bytes, proof: list[bytes]) -> bool:
    """True when ``chunk`` is the packed leaf holding element ``index`` of the tensor of n
    elements committed by root_ (its value: ``unpack(chunk)[index % 256]``)."""
    if not 0 <= index < n < 2**256 or len(proof) != depth(n) or len(bytes(chunk)) != LEAF_BYTES:
        return False
    if not all(isinstance(s, (bytes, bytearray)) and len(s) == 32 for s in proof):
        return False
    return root_from(n, index, chunk, proof) == root_
