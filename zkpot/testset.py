"""The canonical bytes of a test-set shard: what the employer commits to at job creation and
posts on chain after the last stage, so the escrow can tell it got the committed test set.

A shard holds its features already quantised to the accuracy circuit's input grid (integers
q with x = q / 2^scale) and its labels, so every party proves, commits and counts on the same
values. Layout (big-endian):

    b"ZKTS" | version u8 (1) | scale u8 | width u8 (bytes per feature: 1, 2 or 4) |
    rank u8 | dims u32 × rank (one sample's shape) | classes u16 | n u32 |
    features: n × prod(dims) signed integers of `width` bytes | labels: n × u16

``encode_shard`` picks the smallest width that holds every feature; ``decode_shard`` checks
every field and size before it allocates, and refuses trailing bytes.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

import numpy as np

MAGIC = b"ZKTS"
VERSION = 1
MAX_SAMPLES = 1 << 16
MAX_FEATURES = 1 << 20
MAX_RANK = 4
_WIDTHS = {1: ">i1", 2: ">i2", 4: ">i4"}


class TestShardError(ValueError):
    """Bytes that are not a canonical test shard, or a shard that cannot be encoded."""


@dataclass(frozen=True)
class TestShard:
    """One shard: quantised features (int64, shape n × dims), labels, and the grid's scale."""

    features: np.ndarray
    labels: np.ndarray
    num_classes: int
    scale: int

    @property
    def x(self) -> np.ndarray:
        """The features as floats on the grid (exact: q / 2^scale)."""
        return (self.features.astype(np.float64) / float(1 << self.scale)).astype(np.float32)

    def __len__(self) -> int:
        return len(self.labels)


def round_half_away(values: np.ndarray) -> np.ndarray:
    """Round float64 values to integers, halves away from zero (Rust's ``f64::round``)."""
    v = np.asarray(values, dtype=np.float64)
    return (np.sign(v) * np.floor(np.abs(v) + 0.5)).astype(np.int64)


def quantise(x: np.ndarray, scale: int) -> np.ndarray:
    """Features to the grid of ``scale``: the float32 value times 2^scale (exact in float64),
    rounded half away from zero, exactly as ezkl quantises a float input. This is the one rule:
    the certified model's inputs (``zkpot.certified.quantise_inputs``), the shards the escrow
    commits to and the circuit's inputs all use it."""
    return round_half_away(np.asarray(x, dtype=np.float32).astype(np.float64) * float(1 << scale))


def encode_shard(x: np.ndarray, y: np.ndarray, num_classes: int, scale: int) -> bytes:
    """The canonical bytes of a shard of float features ``x`` (quantised here) and labels ``y``."""
    if not 0 <= scale <= 24:
        raise TestShardError("scale must lie in 0..24")
    xf = np.asarray(x, dtype=np.float32)
    if not np.isfinite(xf).all():
        raise TestShardError("a feature is NaN or infinite")
    if xf.size and float(np.abs(xf).max()) * (1 << scale) >= 2**31:
        raise TestShardError(f"a feature quantises beyond 32-bit integers at scale {scale}")
    q = quantise(xf, scale)
    labels = np.asarray(y).reshape(-1)
    if labels.dtype.kind not in "iu" and not (labels.dtype.kind == "f" and np.isfinite(labels).all()
                                              and (labels == np.floor(labels)).all()):
        raise TestShardError("labels must be integers")
    if q.ndim < 2 or len(q) != len(labels) or not 1 <= len(q) <= MAX_SAMPLES:
        raise TestShardError(f"a shard needs 1..{MAX_SAMPLES} samples with one label each")
    if q.ndim - 1 > MAX_RANK or math.prod(q.shape[1:]) > MAX_FEATURES:
        raise TestShardError("a sample's shape is too large for a test shard")
    if not 2 <= num_classes <= 0xFFFF or labels.min() < 0 or labels.max() >= num_classes:
        raise TestShardError(f"labels must lie in [0, {num_classes})")
    peak = int(np.abs(q).max()) if q.size else 0
    width = next((w for w in (1, 2, 4) if peak < (1 << (8 * w - 1))), None)
    if width is None:
        raise TestShardError(f"a feature quantises to {peak}, beyond 32-bit integers at scale {scale}")
    dims = q.shape[1:]
    head = MAGIC + struct.pack(">BBBB", VERSION, scale, width, len(dims))
    head += struct.pack(f">{len(dims)}I", *dims) + struct.pack(">HI", num_classes, len(q))
    return head + q.astype(_WIDTHS[width]).tobytes() + labels.astype(">u2").tobytes()


def decode_shard(data: bytes) -> TestShard:
    """Parse and check a shard's canonical bytes."""
    data = bytes(data)
    if len(data) < 8 or data[:4] != MAGIC:
        raise TestShardError("not a zkpot test shard")
    version, scale, width, rank = struct.unpack_from(">BBBB", data, 4)
    if version != VERSION or width not in _WIDTHS or not 1 <= rank <= MAX_RANK or scale > 24:
        raise TestShardError("unsupported test shard header")
    offset = 8 + 4 * rank + 6
    if len(data) < offset:
        raise TestShardError("truncated test shard header")
    dims = struct.unpack_from(f">{rank}I", data, 8)
    classes, n = struct.unpack_from(">HI", data, 8 + 4 * rank)
    per = math.prod(dims)
    if not 1 <= n <= MAX_SAMPLES or not 1 <= per <= MAX_FEATURES or classes < 2:
        raise TestShardError("test shard sizes out of range")
    if len(data) != offset + n * per * width + 2 * n:
        raise TestShardError("test shard length does not match its header")
    features = np.frombuffer(data, dtype=_WIDTHS[width], count=n * per, offset=offset)
    labels = np.frombuffer(data, dtype=">u2", count=n, offset=offset + n * per * width)
    if labels.max() >= classes:
        raise TestShardError("a label is not below the shard's class count")
    return TestShard(features.astype(np.int64).reshape((n, *dims)), labels.astype(np.int64), classes, scale)


__all__ = ["TestShard", "TestShardError", "decode_shard", "encode_shard", "quantise",
           "round_half_away"]
