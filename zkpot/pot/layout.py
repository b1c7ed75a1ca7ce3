"""Where a spec's parameters and optimiser buffers live during a stage, and the state's bytes.

During a stage every parameter is a view of one flat float64 tensor (in the state's canonical
order: layers by index, ``weight`` before ``bias``), and every optimiser buffer a view of one flat
float64 array in the same order (all hold integers below 2^53, so float64 is exact), so the
optimiser step is a few operations over whole buffers and the state's bytes a handful of copies. The layout of a spec is computed once and cached.

The range of every loaded value is checked (``check_ranges``): the bounds are what keeps every
integer of the stage below 2^63 and every float64 value below 2^53 (docs/pot.md).
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from zkpot.hashing import STATE_MAGIC, canonical_json
from zkpot.pot import bounds
from zkpot.spec import SGD, Conv2d, Linear, ModelSpec

STATE_FORMAT = "zkpot-fixed-1"
MAX_STEP = 2**40          # optimiser steps a state may have taken
FRAC_BITS = {"weights": bounds.W_FRAC, "buffers": "sgd/adam_m Q24, adam_v Q32"}


_arena = threading.local()


def arena(role: str, n: int, dtype) -> np.ndarray:
    """A length-n array for ``role``, reused by the next stage in this thread: a fresh large
    array costs its page faults again (about 20 ms per 32 MB measured), the whole of a small
    stage. Every user overwrites all of it; ``release_arena`` frees them."""
    arrays = _arena.__dict__.setdefault("arrays", {})
    a = arrays.get(role)
    if a is None or a.shape[0] < n or a.dtype != dtype:
        a = arrays[role] = np.empty(n, dtype=dtype)
    return a[:n]


def release_arena() -> None:
    """Free this thread's reused stage arrays."""
    _arena.__dict__.pop("arrays", None)


class StateRangeError(ValueError):
    """A state value lies outside the bounds the exact arithmetic needs."""


@dataclass(frozen=True)
class Slot:
    """One parameter: its name, shape and place [start, stop) in the flat buffers."""

    name: str
    shape: tuple[int, ...]
    start: int
    stop: int
    layer: int


@dataclass(frozen=True)
class Layout:
    """A spec's parameters and buffers in canonical order."""

    slots: tuple[Slot, ...]
    size: int
    buffers: tuple[str, ...]          # () | ("momentum",) | ("m", "v")

    def names(self) -> list[str]:
        """Every tensor of the state, in serialisation order."""
        out = [s.name for s in self.slots]
        if self.buffers == ("momentum",):
            out += [f"opt.{s.name}.momentum" for s in self.slots]
        elif self.buffers:
            out += [f"opt.{s.name}.{b}" for s in self.slots for b in self.buffers]
        return out

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Name -> shape of every tensor of the state."""
        by_param = {s.name: s.shape for s in self.slots}
        return {n: by_param[n.split(".", 1)[1].rsplit(".", 1)[0] if n.startswith("opt.") else n] for n in self.names()}


def param_shapes(spec: ModelSpec) -> list[tuple[int, str, tuple[int, ...], int]]:
    """(layer index, weight|bias, shape, fan-in) of every parameter, in canonical order."""
    out = []
    for i, layer in enumerate(spec.layers):
        if isinstance(layer, Linear):
            shape, fan_in = (layer.out_features, layer.in_features), layer.in_features
        elif isinstance(layer, Conv2d):
            k = layer.kernel_size
            shape, fan_in = (layer.out_channels, layer.in_channels, k, k), layer.in_channels * k * k
        else:
            continue
        out += [(i, "weight", shape, fan_in), (i, "bias", shape[:1], fan_in)]
    return out


@lru_cache(maxsize=64)
def _layout(spec_json: str) -> Layout:
    spec = ModelSpec.model_validate_json(spec_json)
    slots, offset = [], 0
    for i, kind, shape, _ in param_shapes(spec):
        size = math.prod(shape)
        slots.append(Slot(f"{i}.{kind}", shape, offset, offset + size, i))
        offset += size
    opt = spec.optimizer
    buffers = (("momentum",) if opt.momentum > 0 else ()) if isinstance(opt, SGD) else ("m", "v")
    return Layout(tuple(slots), offset, buffers)


def layout_for(spec: ModelSpec) -> Layout:
    """The (cached) layout of a validated spec."""
    return _layout(spec.model_dump_json())


def _bound(name: str) -> tuple[int, int, str]:
    if not name.startswith("opt."):
        return -bounds.W_MAX, bounds.W_MAX, "parameter (weight bound 2^24, i.e. 16 in Q20)"
    kind = name.rsplit(".", 1)[1]
    if kind == "momentum":
        return -bounds.MOMENTUM_MAX, bounds.MOMENTUM_MAX, "SGD momentum buffer (bound 2^38 in Q24)"
    if kind == "m":
        return -bounds.ADAM_M_MAX, bounds.ADAM_M_MAX, "Adam first moment (bound 2^27, i.e. 8 in Q24)"
    return 0, bounds.ADAM_V_MAX, "Adam second moment (0..2^38 in Q32)"


def check_ranges(tensors: dict[str, np.ndarray], step) -> None:
    """Raise ``StateRangeError`` naming the first tensor (or the step) outside its bounds."""
    if type(step) is not int or not 0 <= step <= MAX_STEP:
        raise StateRangeError(f"step count {step!r} is not an integer in 0..2^40")
    for name, arr in tensors.items():
        if arr.dtype.kind not in "iu":
            raise StateRangeError(f"tensor {name!r} has dtype {arr.dtype}; the state holds integers only")
        if arr.size == 0:
            continue
        lo, hi, what = _bound(name)
        least, most = int(arr.min()), int(arr.max())
        if least < lo or most > hi:
            bad = least if least < lo else most
            raise StateRangeError(f"{name}: value {bad} outside [{lo}, {hi}] for a {what}")


def check_layout(layout: Layout, shapes: dict[str, tuple[int, ...]]) -> None:
    """Raise ``StateRangeError`` unless the state holds exactly the spec's tensors and shapes."""
    expected = layout.shapes()
    if set(shapes) != set(expected):
        missing, extra = sorted(set(expected) - set(shapes)), sorted(set(shapes) - set(expected))
        raise StateRangeError("state parameters do not match the spec's layers"
                              + (f"; missing {', '.join(missing)}" if missing else "")
                              + (f"; unexpected {', '.join(extra)}" if extra else ""))
    for name, shape in expected.items():
        if tuple(shapes[name]) != shape:
            raise StateRangeError(f"state tensor {name} has shape {tuple(shapes[name])}, the spec needs {shape}")


def parse_state(data: bytes) -> tuple[dict[str, np.ndarray], int]:
    """The tensors of serialised state bytes as big-endian views (no copy) and the step count."""
    if not data.startswith(STATE_MAGIC):
        raise StateRangeError("not a zkpot state: missing magic bytes ZKPOTS1")
    end = data.find(b"\n", len(STATE_MAGIC))
    try:
        header = json.loads(data[len(STATE_MAGIC):end]) if end > 0 else None
        meta, entries = header["meta"], header["tensors"]
        if not isinstance(meta, dict):
            raise TypeError("meta is not an object")
        named = [(name, tuple(shape)) for name, shape in entries]
        if not all(type(name) is str and all(type(d) is int for d in shape) for name, shape in named):
            raise TypeError("a tensor's name is not a string or its shape not integers")
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise StateRangeError(f"unreadable state header: {exc}") from None
    if meta.get("format") != STATE_FORMAT:
        raise StateRangeError(f"state format {meta.get('format')!r} is not {STATE_FORMAT}")
    if len({name for name, _ in named}) != len(named):
        raise StateRangeError("zkpot state names a tensor twice")
    # one state, one byte string: H(S) of what is loaded is the hash of the bytes given
    canonical = {"meta": {"format": STATE_FORMAT, "step": meta.get("step"), "frac_bits": FRAC_BITS},
                 "tensors": [[name, list(shape)] for name, shape in named]}
    try:
        canonical_header = STATE_MAGIC + canonical_json(canonical) + b"\n"
    except (ValueError, TypeError):
        canonical_header = b""
    if data[:end + 1] != canonical_header:
        raise StateRangeError("zkpot state header is not canonical (docs/pot.md: its keys, their order, "
                              "frac_bits and spacing are fixed)")
    tensors, offset = {}, end + 1
    for name, shape in named:
        count = math.prod(shape)
        if min(shape, default=1) < 0 or offset + 8 * count > len(data):
            raise StateRangeError(f"truncated zkpot state at tensor {name!r}")
        tensors[name] = np.frombuffer(data, dtype=">i8", count=count, offset=offset).reshape(shape)
        offset += 8 * count
    if offset != len(data):
        raise StateRangeError(f"zkpot state has {len(data) - offset} trailing bytes")
    return tensors, meta.get("step")


def header_bytes(layout: Layout, step: int) -> bytes:
    """Magic and canonical header of a state (identical to ``hashing.serialize_state``)."""
    meta = {"format": STATE_FORMAT, "step": step, "frac_bits": FRAC_BITS}
    shapes = layout.shapes()
    header = {"meta": meta, "tensors": [[n, list(shapes[n])] for n in layout.names()]}
    return STATE_MAGIC + canonical_json(header) + b"\n"


def state_to_bytes(layout: Layout, params: np.ndarray, buffers: dict[str, np.ndarray], step: int) -> bytes:
    """Serialise flat parameters and buffers (float64 arrays of integers) canonically: one
    conversion into a reused big-endian array, then one copy into the bytes."""
    payload = arena("payload", layout.size * (1 + len(layout.buffers)), np.dtype(">i8"))
    payload[:layout.size] = params
    if layout.buffers == ("momentum",):
        payload[layout.size:] = buffers["momentum"]
    elif layout.buffers:
        at = layout.size
        for s in layout.slots:
            for b in layout.buffers:
                payload[at:at + s.stop - s.start] = buffers[b][s.start:s.stop]
                at += s.stop - s.start
    return b"".join((header_bytes(layout, step), memoryview(payload).cast("B")))


def flatten_state(layout: Layout, tensors: dict[str, np.ndarray], step) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Flat float64 parameters and buffers (reused arrays) from named tensors of the layout's
    names and shapes, range-checked (``StateRangeError`` naming the tensor)."""
    params = arena("params", layout.size, np.float64)
    buffers = {b: arena(b, layout.size, np.float64) for b in layout.buffers}
    for s in layout.slots:
        params[s.start:s.stop] = tensors[s.name].reshape(-1)
        for b in layout.buffers:
            buffers[b][s.start:s.stop] = tensors[f"opt.{s.name}.{b}"].reshape(-1)
    checks = [(params, "0.weight")] + [(a, f"opt.0.weight.{b}") for b, a in buffers.items()]
    for flat, example in checks:
        lo, hi, _ = _bound(example)
        if flat.size and (flat.min() < lo or flat.max() > hi):
            check_ranges(tensors, step)                  # names the tensor (values beyond 2^53 too)
    if type(step) is not int or not 0 <= step <= MAX_STEP:
        check_ranges({}, step)
    return params, buffers
