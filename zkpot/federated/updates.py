"""A model update's bytes: a canonical, pickle-free encoding of a state dict.

Layout: ``MAGIC || u32 header length || header JSON || tensors``; the header lists each
parameter's name, shape and byte length in state-dict order, the tensors follow as float32
little-endian. The employer decodes updates from untrusted participants, so nothing here
executes or unpickles what it reads.
"""

from __future__ import annotations

import json
import math
import struct

import numpy as np
import torch

MAGIC = b"ZKFLW\x01"
MAX_HEADER = 1 << 20


class UpdateFormatError(ValueError):
    """The bytes are not a well-formed encoded update."""


def encode_state(state: dict[str, torch.Tensor]) -> bytes:
    """Encode a state dict (float parameters only) to bytes, deterministically."""
    header, blobs = [], []
    for name, tensor in state.items():
        array = tensor.detach().cpu().to(torch.float32).numpy().astype("<f4", copy=False)
        blob = np.ascontiguousarray(array).tobytes()
        header.append({"name": name, "shape": list(array.shape), "bytes": len(blob)})
        blobs.append(blob)
    head = json.dumps(header, separators=(",", ":")).encode()
    return MAGIC + struct.pack("<I", len(head)) + head + b"".join(blobs)


def decode_state(data: bytes) -> dict[str, torch.Tensor]:
    """Decode :func:`encode_state`'s bytes; raise UpdateFormatError on anything else."""
    if not data.startswith(MAGIC) or len(data) < len(MAGIC) + 4:
        raise UpdateFormatError("not an encoded update")
    (size,) = struct.unpack_from("<I", data, len(MAGIC))
    start = len(MAGIC) + 4
    if size > MAX_HEADER or start + size > len(data):
        raise UpdateFormatError("header out of range")
    try:
        header = json.loads(data[start:start + size])
    except (ValueError, RecursionError) as exc:
        raise UpdateFormatError("header is not JSON") from exc
    # an untrusted participant wrote it: every field is checked, so nothing but
    # UpdateFormatError leaves here (found by an attack: null, Infinity or a shape of 1e400
    # raised TypeError or OverflowError, and the employer's close_round failed every time)
    if not isinstance(header, list):
        raise UpdateFormatError("header is not a list of tensors")
    offset, state = start + size, {}
    for entry in header:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) \
                or not isinstance(entry.get("shape"), list) or type(entry.get("bytes")) is not int \
                or not all(type(d) is int and 0 <= d < 2**31 for d in entry["shape"]) or len(entry["shape"]) > 8:
            raise UpdateFormatError("a tensor entry is not {name, shape, bytes} of a string and integers")
        name, shape, length = entry["name"][:200], tuple(entry["shape"]), entry["bytes"]
        if name in state:
            raise UpdateFormatError(f"tensor {name!r} is named twice")
        if length != 4 * math.prod(shape) or offset + length > len(data):
            raise UpdateFormatError(f"tensor {name!r} has a wrong length")
        array = np.frombuffer(data, dtype="<f4", count=length // 4, offset=offset)
        state[name] = torch.from_numpy(array.reshape(shape).copy())
        offset += length
    if offset != len(data):
        raise UpdateFormatError("trailing bytes after the last tensor")
    return state
