"""The stage function f(S_i, B_{i+1}) -> (S_{i+1}, rho_{i+1}) and the training secret.

Training runs in exact fixed-point arithmetic (``zkpot.pot``) so that every node, on any CPU
thread count or GPU, computes bit-identical states and losses. The training secret is eq. 1 of
the paper over the per-sample losses in processing order, each encoded as a signed 64-bit
big-endian integer in Q16: h_1 = keccak(l_1), h_j = keccak(l_j || h_{j-1}), rho = h_n. The h_j
are kept as checkpoints. Every input is checked first (spec, chunk, state ranges); any failure
inside a stage is a ``StageError`` with the reason. ``python -m zkpot.stage --selfcheck`` prints
hashes to compare across machines; ``--compare cpu,cuda`` compares devices on every preset.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from zkpot.datasets import MAX_ABS_FEATURE, Dataset
from zkpot.hashing import keccak, keccak_chain
from zkpot.pot import fixedpoint as fp
from zkpot.pot.layout import (MAX_STEP, STATE_FORMAT, StateRangeError, arena, check_layout,
                              flatten_state, layout_for, param_shapes, parse_state, state_to_bytes)
from zkpot.pot.state import StageError, TrainingState
from zkpot.pot.trainer import Trainer, derived_rng
from zkpot.spec import ModelSpec, SpecError, build_model, infer_shapes, layer_shapes

__all__ = ["STATE_FORMAT", "StageError", "StageResult", "TrainingSecret", "TrainingState", "batches", "encode_loss",
           "evaluate", "first_divergence", "float_model", "initial_weights", "quantize_inputs", "train_stage",
           "weights_to_float_state_dict"]


def initial_weights(spec: ModelSpec, seed: int | None = None) -> TrainingState:
    """S_0 from the seed: each weight and bias uniform in [-1/sqrt(fan_in), 1/sqrt(fan_in)] (Q20)."""
    seed = spec.seed if seed is None else seed
    params: dict[str, np.ndarray] = {}
    rngs: dict[int, np.random.PCG64] = {}
    for i, kind, shape, fan_in in param_shapes(spec):
        bound = math.isqrt((1 << (2 * fp.W_FRAC)) // fan_in)
        rng = rngs.setdefault(i, derived_rng(seed, b"zkpot.init", i))      # weight, then bias
        raw = rng.random_raw(math.prod(shape))
        params[f"{i}.{kind}"] = ((raw % np.uint64(2 * bound + 1)).astype(np.int64) - bound).reshape(shape)
    layout = layout_for(spec)
    buffers = {f"opt.{name}.{b}": np.zeros_like(value) for name, value in params.items() for b in layout.buffers}
    return TrainingState(params, buffers, 0)


def encode_loss(loss: int) -> bytes:
    """The fixed byte encoding of one per-sample loss: Q16 integer, int64 big-endian."""
    return int(loss).to_bytes(8, "big", signed=True)


@dataclass(frozen=True)
class TrainingSecret:
    """rho over per-sample losses (eq. 1) and the chain values h_1..h_n as checkpoints."""

    rho: bytes
    checkpoints: list[bytes]

    @classmethod
    def from_losses(cls, losses) -> "TrainingSecret":
        """Chain the losses in processing order: h_1 = H(l_1), h_j = H(l_j || h_{j-1})."""
        # one vectorised call: every loss as its own 8-byte big-endian bytes object
        encoded = np.asarray(losses, dtype=np.int64).reshape(-1).astype(">i8").view("V8").tolist()
        chain = keccak_chain(encoded)
        if not chain:
            raise StageError("a stage needs at least one sample")
        return cls(chain[-1], chain)


def first_divergence(a: list[bytes], b: list[bytes]) -> int | None:
    """Index of the first sample whose checkpoint differs (bisection), or None if equal."""
    n = min(len(a), len(b))
    if n and a[n - 1] == b[n - 1]:
        return None if len(a) == len(b) else n
    lo, hi = 0, n  # chains agree before lo; differ at hi (or hi == n)
    while lo < hi:
        mid = (lo + hi) // 2
        if a[mid] == b[mid]:
            lo = mid + 1
        else:
            hi = mid
    return lo


@dataclass
class StageResult:
    """Outcome of one stage: S_{i+1}'s bytes and hash, rho, losses (Q16) and checkpoints.

    ``state`` (the parsed S_{i+1}) is decoded from ``state_bytes`` on first use.
    """

    state_bytes: bytes
    weights_hash: bytes
    rho: bytes
    losses: np.ndarray
    checkpoints: list[bytes]
    _state: TrainingState | None = field(default=None, repr=False)

    @property
    def state(self) -> TrainingState:
        if self._state is None:
            self._state = TrainingState.from_bytes(self.state_bytes)
        return self._state


def quantize_inputs(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Features to Q16: round-half-even of x * 2^16 in float64 (exact for |x| <= 1024), as float64."""
    out = np.empty(np.shape(x), dtype=np.float64) if out is None else out.reshape(np.shape(x))
    np.multiply(x, 65536.0, out=out, dtype=np.float64)
    return np.rint(out, out=out)


def batches(n: int, b: int) -> list[tuple[int, int]]:
    """The batch rule: consecutive runs of b samples; a trailing single sample joins the batch
    before it, so every batch has at least 2 samples (a chunk of fewer than b is one batch)."""
    if n < 2:
        raise StageError(f"a stage needs at least 2 samples, got {n}: a batch of one would reveal its loss")
    bounds = [(s, min(s + b, n)) for s in range(0, n, b)]
    if bounds[-1][1] - bounds[-1][0] == 1:
        bounds[-2:] = [(bounds[-2][0], n)]
    return bounds


def _check_chunk(spec: ModelSpec, chunk) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels of a chunk, checked against the spec: ``StageError`` otherwise."""
    x, y = (chunk.features, chunk.labels) if isinstance(chunk, Dataset) else chunk
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim < 2 or y.ndim != 1 or x.shape[0] != y.shape[0]:
        raise StageError(f"chunk features {x.shape} and labels {y.shape} do not pair up")
    try:
        out = layer_shapes(spec, x.shape[1:])[-1]
        infer_shapes(spec, x.shape[1:], out[0] if len(out) == 1 else 0)
    except SpecError as exc:
        raise StageError(f"chunk does not fit the spec: {exc}") from None
    # min and max are NaN if any value is (and infinite if one is): two passes, no copy
    lo, hi = (float(x.min()), float(x.max())) if x.dtype.kind in "fiub" and x.size else (0.0, 0.0)
    if x.dtype.kind not in "fiub" or not -MAX_ABS_FEATURE <= lo <= hi <= MAX_ABS_FEATURE:
        raise StageError(f"chunk features must be finite numbers within +-{MAX_ABS_FEATURE:g}")
    if y.dtype.kind not in "iu" and not (y.dtype.kind == "f" and np.all(y == np.round(y))):
        raise StageError("chunk labels must be integers")
    y = y.astype(np.int64)
    if y.size and (y.min() < 0 or y.max() >= out[0]):
        raise StageError(f"chunk labels must lie in 0..{out[0] - 1}, found {int(y.min())}..{int(y.max())}")
    return x, y


def _device(device) -> tuple[torch.device, bool]:
    """The torch device and whether the optimiser step runs in numpy (the CPU's fast path).

    ``"cpu-torch"`` runs on the CPU the code path a GPU runs (torch for every step).
    """
    if device == "cpu-torch":
        return torch.device("cpu"), False
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise StageError(f"unknown device {device!r} (cpu, cuda, cuda:N or cpu-torch)") from None
    if dev.type not in ("cpu", "cuda"):
        raise StageError(f"device {device!r} is not supported (cpu, cuda, cuda:N or cpu-torch)")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise StageError("device cuda was asked for but torch sees no CUDA device")
    return dev, dev.type == "cpu"


def _load(spec: ModelSpec, state: TrainingState | bytes):
    """Flat parameters, buffers and step of S_i, after checking its tensors and ranges."""
    layout = layout_for(spec)
    try:
        if isinstance(state, (bytes, bytearray, memoryview)):
            tensors, step = parse_state(bytes(state))
        else:
            tensors, step = {**state.params, **state.buffers}, state.step
            tensors = {k: np.asarray(v) for k, v in tensors.items()}
            bad = next((k for k, v in tensors.items() if v.dtype.kind not in "iu"), None)
            if bad:
                raise StateRangeError(f"tensor {bad!r} has dtype {tensors[bad].dtype}; the state holds integers only")
        check_layout(layout, {k: v.shape for k, v in tensors.items()})
        return (layout, *flatten_state(layout, tensors, step), step)
    except StateRangeError as exc:
        raise StageError(str(exc)) from None


def _quantized_batches(x: np.ndarray, bounds: list[tuple[int, int]], dev) -> tuple[torch.Tensor, int, list[int]]:
    """The chunk's features in Q16 on ``dev``, the bound on their magnitude, and where each batch's
    rows start. Flat features (a model that starts with Linear) are laid out as [x; 1] a batch --
    each batch's rows, then a row of ones -- which is how the first layer's weight gradient reads
    them (``layers.weight_grad``): no copy a batch."""
    if x.ndim != 2:
        xq = torch.from_numpy(quantize_inputs(x, arena("inputs", x.size, np.float64))).to(dev)
        return xq, int(fp.absmax(xq)), [start for start, _ in bounds]
    d = x.shape[1]
    xq = arena("inputs", (x.shape[0] + len(bounds)) * d, np.float64).reshape(-1, d)
    at = [start + j for j, (start, _) in enumerate(bounds)]
    for a, (start, end) in zip(at, bounds):
        quantize_inputs(x[start:end], xq[a:a + end - start])
        xq[a + end - start] = 0.0
    t = torch.from_numpy(xq).to(dev)
    xmax = int(fp.absmax(t))                # the features' bound (the separating rows are 0 here)
    for a, (start, end) in zip(at, bounds):
        t[a + end - start] = 1.0
    return t, xmax, at


def train_stage(spec: ModelSpec, state: TrainingState | bytes, chunk: Dataset | tuple[np.ndarray, np.ndarray],
                stage_index: int, seed: int | None = None, device: str = "cpu",
                compute_secret: bool = True) -> StageResult:
    """f(S_i, B_{i+1}): train one stage on the chunk in its order; return S_{i+1} and rho."""
    x, y = _check_chunk(spec, chunk)
    seed = spec.seed if seed is None else seed
    for what, value in (("stage index", stage_index), ("seed", seed)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= int(value) < 2**64:
            raise StageError(f"{what} must be an integer in 0..2^64-1, got {value!r}")
    dev, host_ops = _device(device)
    layout, params, buffers, step = _load(spec, state)
    bounds = batches(len(y), spec.batch_size)
    if step + len(bounds) > MAX_STEP:
        raise StageError(f"step count {step} + {len(bounds)} batches would pass 2^40")
    try:
        trainer = Trainer(spec, layout, params, buffers, step, dev, int(seed), int(stage_index), host_ops)
        xq, xmax, at = _quantized_batches(x, bounds, dev)
        losses = np.empty(len(y), dtype=np.int64)
        for (start, end), a in zip(bounds, at):
            aug = xq[a:a + end - start + 1] if x.ndim == 2 else None
            losses[start:end] = trainer.run_batch(xq[a:a + end - start], xmax, y[start:end], aug)
        params, buffers = trainer.host_state()
        data = state_to_bytes(layout, params, buffers, trainer.step)
        secret = TrainingSecret.from_losses(losses) if compute_secret else TrainingSecret(b"", [])
    except StageError:
        raise
    except Exception as exc:          # out of memory, a device error: never a bare error from a stage
        raise StageError(f"stage {stage_index} failed: {type(exc).__name__}: {exc}") from None
    return StageResult(data, keccak(data), secret.rho, losses, secret.checkpoints)


def weights_to_float_state_dict(state: TrainingState | bytes) -> dict[str, torch.Tensor]:
    """Parameters as float32 tensors named like ``build_model(spec).state_dict()`` (exact)."""
    if isinstance(state, (bytes, bytearray)):
        state = TrainingState.from_bytes(bytes(state))
    return {k: torch.from_numpy(v.astype(np.float64) / 2.0**fp.W_FRAC).float() for k, v in state.params.items()}


def float_model(spec: ModelSpec, state: TrainingState | bytes) -> torch.nn.Module:
    """The float torch module loaded with the state's parameters, in eval mode."""
    model = build_model(spec)
    model.load_state_dict(weights_to_float_state_dict(state))
    return model.eval()


def evaluate(spec: ModelSpec, state: TrainingState | bytes, x: np.ndarray, y: np.ndarray) -> float:
    """Accuracy of the float model with the state's parameters on (x, y)."""
    with torch.no_grad():
        pred = float_model(spec, state)(torch.as_tensor(np.asarray(x, dtype=np.float32))).argmax(1).numpy()
    return float((pred == np.asarray(y)).mean())


def main(argv: list[str] | None = None) -> int:
    """``python -m zkpot.stage --selfcheck [--compare cpu,cuda]`` (``zkpot.pot.selfcheck``)."""
    from zkpot.pot.selfcheck import main as selfcheck_main

    return selfcheck_main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
