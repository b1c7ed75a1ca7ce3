"""Datasets: loading (CSV, NPZ), validation, the seeded train/test split, bundled demo sets and
the canonical chunk encoding that stage chunks are stored in.

CSV: a header row is optional; the label is the column named ``label`` if there is one, else
the last column; every other column is a numeric feature. NPZ: arrays ``x``/``y`` or
``features``/``labels``; ``x`` may be (n, d) or (n, c, h, w). Labels are integers 0..C-1.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass

import numpy as np

from zkpot.hashing import canonical_json

MAX_SAMPLES = 1_000_000
MAX_FEATURES = 1_000_000       # values per sample
MAX_CLASSES = 1000
MAX_ABS_FEATURE = 1024.0       # fixed-point inputs (docs/pot.md): standardise larger data
DEFAULT_MAX_DATASET_BYTES = 64 * 1024 * 1024   # Settings.max_dataset_bytes
CHUNK_MAGIC = b"ZKPOTC1\n"


class DatasetError(ValueError):
    """A dataset is malformed or outside the limits."""


@dataclass(frozen=True)
class Dataset:
    """Features (n, *input_shape) float32 and integer labels (n,) in 0..num_classes-1."""

    features: np.ndarray
    labels: np.ndarray
    num_classes: int
    input_shape: tuple[int, ...]

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, index: np.ndarray) -> "Dataset":
        """The samples at ``index``, in that order."""
        return Dataset(self.features[index], self.labels[index], self.num_classes, self.input_shape)


def validate(features: np.ndarray, labels: np.ndarray, num_classes: int | None = None) -> Dataset:
    """Check shapes, values and limits; return a ``Dataset`` or raise ``DatasetError``."""
    x = np.asarray(features)
    y = np.asarray(labels)
    if x.dtype.kind not in "fiub":
        raise DatasetError(f"features must be numeric, got dtype {x.dtype}")
    if x.ndim < 2:
        raise DatasetError(f"features must be (samples, ...), got shape {x.shape}")
    if y.ndim != 1:
        raise DatasetError(f"labels must be one-dimensional, got shape {y.shape}")
    if x.shape[0] != y.shape[0]:
        raise DatasetError(f"{x.shape[0]} feature rows but {y.shape[0]} labels")
    n = x.shape[0]
    if n < 2:
        raise DatasetError(f"need at least 2 samples, got {n}")
    if n > MAX_SAMPLES:
        raise DatasetError(f"{n} samples exceed the limit {MAX_SAMPLES}")
    per_sample = math.prod(x.shape[1:])
    if per_sample > MAX_FEATURES or per_sample < 1:
        raise DatasetError(f"{per_sample} values per sample (limit {MAX_FEATURES})")
    x = x.astype(np.float32, copy=False)
    finite = np.isfinite(x).reshape(n, -1).all(axis=1)
    if not finite.all():
        row = int(np.argmin(finite))
        raise DatasetError(f"features contain NaN or infinity (first at sample {row})")
    if max(float(x.max()), -float(x.min())) > MAX_ABS_FEATURE:
        raise DatasetError(f"feature values must lie in [-{MAX_ABS_FEATURE:g}, {MAX_ABS_FEATURE:g}]; standardise the data")
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
            raise DatasetError("labels must be integers")
    elif y.dtype.kind not in "iub":
        raise DatasetError(f"labels must be integers, got dtype {y.dtype}")
    y = y.astype(np.int64)
    if y.min() < 0:
        raise DatasetError(f"labels must be >= 0, found {int(y.min())}")
    classes = int(y.max()) + 1 if num_classes is None else int(num_classes)
    if not 2 <= classes <= MAX_CLASSES:
        raise DatasetError(f"number of classes must be in 2..{MAX_CLASSES}, got {classes}")
    if y.max() >= classes:
        raise DatasetError(f"label {int(y.max())} out of range for {classes} classes")
    return Dataset(np.ascontiguousarray(x), y, classes, tuple(int(d) for d in x.shape[1:]))


def _csv_cells(line: str, row: int, width: int | None) -> list[str]:
    """One CSV line as cells; a line of more than MAX_FEATURES + 1 columns is refused unsplit."""
    if line.count(",") > MAX_FEATURES:
        raise DatasetError(f"CSV row {row} has more than {MAX_FEATURES + 1} columns")
    cells = next(csv.reader([line])) if '"' in line else line.split(",")
    if width is not None and len(cells) != width:
        raise DatasetError(f"CSV row {row} has {len(cells)} columns, expected {width}")
    return cells


def _lines(data: bytes):
    """The text lines of ``data``, decoded one at a time (no copy of the whole text)."""
    pos = 0
    while pos < len(data):
        end = data.find(b"\n", pos)
        end = len(data) if end < 0 else end
        try:
            yield data[pos:end].decode("utf-8").rstrip("\r")
        except UnicodeDecodeError:
            raise DatasetError("CSV is not UTF-8 text") from None
        pos = end + 1


def load_csv(data: bytes, num_classes: int | None = None,
             max_bytes: int = DEFAULT_MAX_DATASET_BYTES) -> Dataset:
    """Parse CSV bytes (label column ``label`` or the last column); see module doc.

    Rows are read one at a time into float32 blocks (labels kept in float64), so memory
    grows with the values parsed, bounded by ``max_bytes`` (4 bytes per feature value).
    """
    header = width = label_col = None
    blocks: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    block = block_labels = None
    filled = values = rows = 0
    for lineno, line in enumerate(_lines(data), 1):
        if not line.strip(" ,\t"):
            continue
        cells = _csv_cells(line, lineno, width)
        if width is None:
            try:
                [float(c) for c in cells]
            except ValueError:
                header = [c.strip().lower() for c in cells]
                width = len(header)
                if width < 2:
                    raise DatasetError("CSV needs at least one feature column and a label column") from None
                label_col = header.index("label") if "label" in header else width - 1
                continue
            width = len(cells)
            if width < 2:
                raise DatasetError("CSV needs at least one feature column and a label column")
            label_col = width - 1
        try:
            row = [float(c) for c in cells]
        except ValueError as exc:
            raise DatasetError(f"CSV row {lineno}: {exc}") from None
        values += width
        rows += 1
        if rows > MAX_SAMPLES:
            raise DatasetError(f"CSV holds more than {MAX_SAMPLES} samples (the limit)")
        if 4 * values > max_bytes:
            raise DatasetError(f"CSV holds more than {max_bytes // 4} values; the limit is "
                               f"{max_bytes} bytes as float32 (ZKPOT_MAX_DATASET_BYTES)")
        if block is None or filled == len(block):
            if block is not None:
                blocks.append(block)
                labels.append(block_labels)
            block = np.empty((max(1, min(4096, (1 << 22) // width)), width - 1), dtype=np.float32)
            block_labels = np.empty(len(block), dtype=np.float64)
            filled = 0
        block_labels[filled] = row.pop(label_col)
        block[filled] = row
        filled += 1
    if block is None:
        raise DatasetError("CSV is empty" if header is None else "CSV has a header but no rows")
    blocks.append(block[:filled])
    labels.append(block_labels[:filled])
    features = blocks[0] if len(blocks) == 1 else np.concatenate(blocks)
    return validate(features, np.concatenate(labels), num_classes)


def load_npz(data: bytes, num_classes: int | None = None,
             max_bytes: int = DEFAULT_MAX_DATASET_BYTES) -> Dataset:
    """Parse NPZ bytes holding ``x``/``y`` or ``features``/``labels`` (no pickles), bounded by
    ``max_bytes`` uncompressed before anything is inflated (``zkpot.npz``)."""
    from zkpot.npz import NpzError, read_arrays

    try:
        arrays = read_arrays(data, [("x", "y"), ("features", "labels")], max_bytes)
    except NpzError as exc:
        raise DatasetError(str(exc)) from None
    x, y = arrays.get("x", arrays.get("features")), arrays.get("y", arrays.get("labels"))
    return validate(x, y, num_classes)


def load_file(data: bytes, name: str = "", num_classes: int | None = None,
              max_bytes: int = DEFAULT_MAX_DATASET_BYTES) -> Dataset:
    """An uploaded dataset by its kind: NPZ (by name or zip magic) or CSV."""
    is_npz = name.lower().endswith(".npz") or data[:4] == b"PK\x03\x04"
    return (load_npz if is_npz else load_csv)(data, num_classes, max_bytes)


def _seeded_permutation(n: int, seed: int, purpose: bytes) -> np.ndarray:
    """A permutation of range(n) from keccak-derived PCG64 raw output (stable across platforms)."""
    from zkpot.hashing import keccak

    key = int.from_bytes(keccak(purpose + seed.to_bytes(8, "big"))[:16], "big")
    raw = np.random.PCG64(key).random_raw(n)
    return np.argsort(raw, kind="stable")


def split(ds: Dataset, test_fraction: float, seed: int) -> tuple[Dataset, Dataset]:
    """Seeded train/test split (permutation from the seed; see docs/pot.md)."""
    if not 0.0 < test_fraction < 1.0:
        raise DatasetError(f"test_fraction must be in (0, 1), got {test_fraction}")
    n_test = max(1, int(round(len(ds) * test_fraction)))
    if n_test >= len(ds):
        raise DatasetError("test set would take every sample")
    order = _seeded_permutation(len(ds), seed, b"zkpot.split")
    return ds.subset(np.sort(order[n_test:])), ds.subset(np.sort(order[:n_test]))


# bundled demo sets (no download): name -> what it holds
DEMO_DATASETS: dict[str, str] = {
    "digits": "scikit-learn's 8x8 handwritten digits as 64 features in [0, 1], 10 classes (1,797 samples)",
    "digits-images": "the same digits as 1x8x8 images",
    "digits28": "the digits upsampled to MNIST's 28x28 (each pixel 3x3, 2-pixel border) as 784 features",
    "digits28-images": "the 28x28 digits as 1x28x28 images",
    "wine": "13 standardised wine measurements, 3 classes (178 samples)",
}


def upsample_digits28(pixels: np.ndarray) -> np.ndarray:
    """8x8 digit images (n, 8, 8) to MNIST's shape (n, 28, 28): every pixel becomes a 3x3 block
    (24x24) inside a 2-pixel zero border. Pure copies, so the values (k/16) stay exact."""
    blocks = np.repeat(np.repeat(np.asarray(pixels, dtype=np.float32), 3, axis=1), 3, axis=2)
    return np.pad(blocks, ((0, 0), (2, 2), (2, 2)))


def demo_dataset(name: str) -> Dataset:
    """A bundled data set by name (``DEMO_DATASETS``); deterministic, nothing downloaded."""
    from sklearn import datasets as skd

    if name in ("digits", "digits-images", "digits28", "digits28-images"):
        bunch = skd.load_digits()
        x = (bunch.data / 16.0).astype(np.float32)
        if name.startswith("digits28"):
            x = upsample_digits28(x.reshape(-1, 8, 8)).reshape(len(x), -1)
        if name.endswith("-images"):
            side = 28 if name.startswith("digits28") else 8
            x = x.reshape(-1, 1, side, side)
        return validate(x, bunch.target, 10)
    if name == "wine":
        bunch = skd.load_wine()
        x = (bunch.data - bunch.data.mean(0)) / bunch.data.std(0)
        return validate(x.astype(np.float32), bunch.target, 3)
    raise DatasetError(f"unknown demo dataset {name!r} (known: {', '.join(DEMO_DATASETS)})")


def encode_chunk(ds: Dataset) -> bytes:
    """Canonical chunk bytes: magic, JSON header, float32 LE features, int32 LE labels."""
    header = {"input_shape": list(ds.input_shape), "n": len(ds), "num_classes": ds.num_classes,
              "features": "<f4", "labels": "<i4"}
    return (CHUNK_MAGIC + canonical_json(header) + b"\n"
            + np.ascontiguousarray(ds.features, dtype="<f4").tobytes()
            + np.ascontiguousarray(ds.labels, dtype="<i4").tobytes())


def decode_chunk(data: bytes) -> Dataset:
    """Inverse of ``encode_chunk``, validated."""
    if not data.startswith(CHUNK_MAGIC):
        raise DatasetError("not a zkpot chunk: missing magic bytes ZKPOTC1")
    end = data.find(b"\n", len(CHUNK_MAGIC))
    try:
        header = json.loads(data[len(CHUNK_MAGIC):end]) if end > 0 else None
        if not isinstance(header, dict):
            raise TypeError("the header is not an object")
        n, shape, classes = header["n"], tuple(header["input_shape"]), header["num_classes"]
        if not all(type(v) is int and v >= 1 for v in (n, classes, *shape)):
            raise TypeError("n, num_classes and input_shape must be positive integers")
        if header.get("features") != "<f4" or header.get("labels") != "<i4":
            raise TypeError("features must be '<f4' and labels '<i4'")
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise DatasetError(f"bad chunk header: {exc}") from None
    canonical = {"input_shape": list(shape), "n": n, "num_classes": classes, "features": "<f4", "labels": "<i4"}
    if data[:end + 1] != CHUNK_MAGIC + canonical_json(canonical) + b"\n":
        raise DatasetError("chunk header is not canonical (its keys, their order and spacing are fixed)")
    if classes > MAX_CLASSES or n > MAX_SAMPLES or math.prod(shape) > MAX_FEATURES:
        raise DatasetError(f"chunk header beyond the limits: {n} samples, {math.prod(shape)} values a sample, "
                           f"{classes} classes")
    size = n * math.prod(shape)
    body = data[end + 1:]
    if len(body) != 4 * size + 4 * n:
        raise DatasetError(f"chunk body has {len(body)} bytes, expected {4 * size + 4 * n}")
    x = np.frombuffer(body[:4 * size], dtype="<f4").reshape((n, *shape))
    y = np.frombuffer(body[4 * size:], dtype="<i4")
    return validate(x, y, classes)
