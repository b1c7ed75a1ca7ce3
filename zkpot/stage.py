"""The stage function f(S_i, B_{i+1}) -> (S_{i+1}, rho_{i+1}) and the training secret.

Training runs in exact fixed-point arithmetic (``zkpot.pot.fixedpoint``) so that every node, on
any CPU thread count or GPU, computes bit-identical states and losses. The training secret is
eq. 1 of the paper over the per-sample losses in processing order, each encoded as a signed
64-bit big-endian integer in Q16: h_1 = keccak(l_1), h_j = keccak(l_j || h_{j-1}), rho = h_n.
The h_j are kept as checkpoints. Run ``python -m zkpot.stage --selfcheck`` to print hashes
to compare across machines.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from decimal import Decimal, localcontext

import numpy as np
import torch

from zkpot.datasets import Dataset
from zkpot.hashing import deserialize_state, keccak, keccak_chain, serialize_state, weights_hash
from zkpot.pot import fixedpoint as fp
from zkpot.spec import SGD, Conv2d, Dropout, Flatten, Linear, MaxPool2d, ModelSpec, ReLU, build_model

STATE_FORMAT = "zkpot-fixed-1"


class StageError(ValueError):
    """A stage cannot run: the state or chunk does not fit the spec."""


@dataclass
class TrainingState:
    """S_i: parameters (Q20), optimiser buffers and the optimiser step count, all integers."""

    params: dict[str, np.ndarray]
    buffers: dict[str, np.ndarray] = field(default_factory=dict)
    step: int = 0

    def to_bytes(self) -> bytes:
        """Canonical serialisation (``zkpot.hashing.serialize_state``)."""
        meta = {"format": STATE_FORMAT, "step": self.step,
                "frac_bits": {"weights": fp.W_FRAC, "buffers": "sgd/adam_m Q24, adam_v Q32"}}
        return serialize_state({**self.params, **self.buffers}, meta)

    @classmethod
    def from_bytes(cls, data: bytes) -> "TrainingState":
        """Parse a serialised state."""
        tensors, meta = deserialize_state(data)
        if meta.get("format") != STATE_FORMAT:
            raise StageError(f"state format {meta.get('format')!r} is not {STATE_FORMAT}")
        params = {k: v for k, v in tensors.items() if not k.startswith("opt.")}
        buffers = {k: v for k, v in tensors.items() if k.startswith("opt.")}
        return cls(params, buffers, int(meta["step"]))

    def hash(self) -> bytes:
        """H(S): keccak256 of ``to_bytes()``."""
        return weights_hash(self.to_bytes())


def _derived_rng(seed: int, purpose: bytes, *indices: int) -> np.random.PCG64:
    material = purpose + b"".join(int(v).to_bytes(8, "big") for v in (seed, *indices))
    return np.random.PCG64(int.from_bytes(keccak(material)[:16], "big"))


def initial_weights(spec: ModelSpec, seed: int | None = None) -> TrainingState:
    """S_0 from the seed: each weight and bias uniform in [-1/sqrt(fan_in), 1/sqrt(fan_in)] (Q20)."""
    import math

    seed = spec.seed if seed is None else seed
    params: dict[str, np.ndarray] = {}
    for i, layer in enumerate(spec.layers):
        if isinstance(layer, Linear):
            shape, fan_in = (layer.out_features, layer.in_features), layer.in_features
        elif isinstance(layer, Conv2d):
            k = layer.kernel_size
            shape, fan_in = (layer.out_channels, layer.in_channels, k, k), layer.in_channels * k * k
        else:
            continue
        bound = math.isqrt((1 << (2 * fp.W_FRAC)) // fan_in)
        rng = _derived_rng(seed, b"zkpot.init", i)
        for name, shp in (("weight", shape), ("bias", shape[:1])):
            raw = rng.random_raw(int(np.prod(shp)))
            params[f"{i}.{name}"] = ((raw % np.uint64(2 * bound + 1)).astype(np.int64) - bound).reshape(shp)
    buffers = {}
    for name, value in params.items():
        if isinstance(spec.optimizer, SGD):
            if spec.optimizer.momentum > 0:
                buffers[f"opt.{name}.momentum"] = np.zeros_like(value)
        else:
            buffers[f"opt.{name}.m"] = np.zeros_like(value)
            buffers[f"opt.{name}.v"] = np.zeros_like(value)
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
    """Outcome of one stage: S_{i+1}, its bytes and hash, rho, losses (Q16) and checkpoints."""

    state: TrainingState
    state_bytes: bytes
    weights_hash: bytes
    rho: bytes
    losses: np.ndarray
    checkpoints: list[bytes]


def quantize_inputs(x: np.ndarray) -> np.ndarray:
    """Features to Q16: round-half-even of x * 2^16 in float64 (exact IEEE operations)."""
    return np.rint(np.asarray(x, dtype=np.float64) * 65536.0).astype(np.int64)


class _Trainer:
    """One stage of fixed-point training on a device."""

    def __init__(self, spec: ModelSpec, state: TrainingState, device: str, seed: int, stage_index: int):
        self.spec, self.device = spec, device
        t = lambda a: torch.from_numpy(np.array(a, dtype=np.int64)).to(device)  # noqa: E731
        self.params = {k: t(v) for k, v in state.params.items()}
        self.buffers = {k: t(v) for k, v in state.buffers.items()}
        self.step = state.step
        self.rngs = {i: _derived_rng(seed, b"zkpot.dropout", stage_index, i)
                     for i, layer in enumerate(spec.layers) if isinstance(layer, Dropout)}

    def forward(self, x: torch.Tensor, train: bool):
        caches = []
        for i, layer in enumerate(self.spec.layers):
            if isinstance(layer, Linear):
                x, cache = fp.linear_forward(x, self.params[f"{i}.weight"], self.params[f"{i}.bias"])
            elif isinstance(layer, Conv2d):
                x, cache = fp.conv_forward(x, self.params[f"{i}.weight"], self.params[f"{i}.bias"],
                                           layer.stride, layer.padding)
            elif isinstance(layer, ReLU):
                cache = x > 0
                x = x * cache
            elif isinstance(layer, MaxPool2d):
                x, cache = fp.maxpool_forward(x, layer.kernel_size)
            elif isinstance(layer, Flatten):
                cache = x.shape
                x = x.reshape(x.shape[0], -1)
            elif isinstance(layer, Dropout):
                cache = None
                if train and layer.p > 0:
                    raw = self.rngs[i].random_raw(x.numel()) >> np.uint64(48)
                    keep = torch.from_numpy((raw >= round(layer.p * 65536)).astype(np.int64)).to(self.device)
                    cache = keep.reshape(x.shape) * round(65536 / (1 - layer.p))
                    x = fp.rshift(x * cache, 16)
            caches.append(cache)
        return x, caches

    def backward(self, g: torch.Tensor, caches) -> dict[str, torch.Tensor]:
        grads = {}
        first_param = min(i for i, l in enumerate(self.spec.layers) if isinstance(l, (Linear, Conv2d)))
        for i in range(len(self.spec.layers) - 1, first_param - 1, -1):
            layer, cache = self.spec.layers[i], caches[i]
            need = i > first_param
            if isinstance(layer, Linear):
                g, gw, gb = fp.linear_backward(g, self.params[f"{i}.weight"], cache, need)
                grads[f"{i}.weight"], grads[f"{i}.bias"] = gw, gb
            elif isinstance(layer, Conv2d):
                g, gw, gb = fp.conv_backward(g, self.params[f"{i}.weight"], cache, layer.stride, layer.padding, need)
                grads[f"{i}.weight"], grads[f"{i}.bias"] = gw, gb
            elif isinstance(layer, ReLU):
                g = g * cache
            elif isinstance(layer, MaxPool2d):
                g = fp.maxpool_backward(g, layer.kernel_size, cache)
            elif isinstance(layer, Flatten):
                g = g.reshape(cache)
            elif isinstance(layer, Dropout) and cache is not None:
                g = fp.rshift(g * cache, 16)
        return grads

    def update(self, grads: dict[str, torch.Tensor]) -> None:
        opt = self.spec.optimizer
        self.step += 1
        one = 1 << 24
        if isinstance(opt, SGD):
            lr, mu = round(opt.lr * one), round(opt.momentum * one)
            for name, g in grads.items():
                if mu:
                    key = f"opt.{name}.momentum"
                    g = self.buffers[key] = fp.clamp(fp.rshift(mu * self.buffers[key], 24) + g, 2**40)
                self.params[name] = fp.clamp(self.params[name] - fp.rshift(lr * g, 28), fp.W_MAX)
            return
        b1, b2 = round(opt.betas[0] * one), round(opt.betas[1] * one)
        alpha, eps = _adam_scalars(opt.lr, b1, b2, opt.eps, self.step)
        for name, g in grads.items():
            m_key, v_key = f"opt.{name}.m", f"opt.{name}.v"
            m = self.buffers[m_key] = fp.rshift(b1 * self.buffers[m_key] + (one - b1) * g, 24)
            g2 = fp.rshift(g * g, 2 * fp.G_FRAC - fp.V_FRAC)
            v = self.buffers[v_key] = fp.rshift(b2 * self.buffers[v_key] + (one - b2) * g2, 24)
            s = fp.isqrt(v << (2 * fp.G_FRAC - fp.V_FRAC))          # sqrt(v) in Q24
            ratio = fp.clamp(torch.div(m << 16, s + eps, rounding_mode="floor"), 2**22)
            self.params[name] = fp.clamp(self.params[name] - fp.rshift(alpha * ratio, 20), fp.W_MAX)

    def state(self) -> TrainingState:
        out = lambda d: {k: v.cpu().numpy().copy() for k, v in d.items()}  # noqa: E731
        return TrainingState(out(self.params), out(self.buffers), self.step)


def _adam_scalars(lr: float, b1: int, b2: int, eps: float, t: int) -> tuple[int, int]:
    """Bias-corrected step size (Q24) and eps (Q24, at least 1) for step t, in exact decimals."""
    with localcontext() as ctx:
        ctx.prec = 50
        one = Decimal(1 << 24)
        c2 = (1 - (Decimal(b2) / one) ** t).sqrt()
        c1 = 1 - (Decimal(b1) / one) ** t
        alpha = Decimal(repr(lr)) * c2 / c1 * one
        eps_t = Decimal(repr(eps)) * c2 * one
    return int(alpha + Decimal("0.5")), max(1, int(eps_t + Decimal("0.5")))


def _batches(n: int, b: int) -> list[tuple[int, int]]:
    """Consecutive batches of b; a trailing single sample joins the previous batch."""
    bounds = [(s, min(s + b, n)) for s in range(0, n, b)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:
        bounds[-2:] = [(bounds[-2][0], n)]
    return bounds


def train_stage(spec: ModelSpec, state: TrainingState | bytes, chunk: Dataset | tuple[np.ndarray, np.ndarray],
                stage_index: int, seed: int | None = None, device: str = "cpu",
                compute_secret: bool = True) -> StageResult:
    """f(S_i, B_{i+1}): train one stage on the chunk in its order; return S_{i+1} and rho."""
    if isinstance(state, (bytes, bytearray)):
        state = TrainingState.from_bytes(bytes(state))
    x, y = (chunk.features, chunk.labels) if isinstance(chunk, Dataset) else chunk
    if set(state.params) != set(initial_weights(spec, 0).params):
        raise StageError("state parameters do not match the spec's layers")
    seed = spec.seed if seed is None else seed
    trainer = _Trainer(spec, state, device, seed, stage_index)
    xq = torch.from_numpy(quantize_inputs(x)).to(device)
    yt = torch.from_numpy(np.asarray(y, dtype=np.int64)).to(device)
    losses = []
    for start, end in _batches(len(yt), spec.batch_size):
        z, caches = trainer.forward(xq[start:end], train=True)
        loss, g = fp.cross_entropy(z, yt[start:end])
        losses.append(loss)
        trainer.update(trainer.backward(g, caches))
    new_state = trainer.state()
    all_losses = torch.cat(losses).cpu().numpy()
    secret = TrainingSecret.from_losses(all_losses) if compute_secret else TrainingSecret(b"", [])
    data = new_state.to_bytes()
    return StageResult(new_state, data, weights_hash(data), secret.rho, all_losses, secret.checkpoints)


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


def selfcheck(presets: list[str], samples: int, device: str) -> list[str]:
    """Train two stages of each preset on its demo data; lines of hashes to compare."""
    from zkpot.datasets import demo_dataset
    from zkpot.spec import PRESET_DATASETS, preset

    lines = []
    for name in presets:
        spec, ds = preset(name), demo_dataset(PRESET_DATASETS[name])
        state = initial_weights(spec)
        for stage in (1, 2):
            part = ds.subset(np.arange((stage - 1) * samples, stage * samples) % len(ds))
            result = train_stage(spec, state, part, stage, device=device)
            state = result.state
            lines.append(f"{name} stage {stage} weights {result.weights_hash.hex()} rho {result.rho.hex()}")
    return lines


def main(argv: list[str] | None = None) -> int:
    """``--selfcheck``: print stage hashes (compare between thread counts, CPU and GPU)."""
    parser = argparse.ArgumentParser(description="zkpot stage function self-check")
    parser.add_argument("--selfcheck", action="store_true", required=True)
    parser.add_argument("--presets", default="digits-mlp,digits-cnn,wine-mlp")
    parser.add_argument("--samples", type=int, default=96)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    for line in selfcheck(args.presets.split(","), args.samples, args.device):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
