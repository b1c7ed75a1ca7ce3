"""The certified model: the quantised, integer model the accuracy circuit evaluates, and its
exact reference count.

The escrow pays for what the circuit counts, so the model a certificate certifies is defined
here, in integers, apart from ezkl: every weight on the grid 2^-param_scale, every bias on the
grid of the accumulator it is added to (2^-(scale of the layer's input + param_scale)), inputs
rounded to 2^-input_scale, rounding half away from zero (as ezkl rounds). Inference is exact
integer arithmetic with no rescaling, so the logits of a network with L weight layers are
integers at scale input_scale + L * param_scale (+ 1 per ReLU, computed as x + |x|), and the
count is:

    #{ i : z_i[y_i] - z_i[j] >= margin_steps for every class j != y_i }

with z the integer logits, y_i the class of label row i and margin_steps >= 1 (a tie, or a
constant-output model, counts 0). A label row that is not one-hot (an entry other than 0 or 1,
no 1, two 1s) counts 0, in the circuit as here.
``zkpot.zk`` proves this count bit for bit (docs/zk.md); ``reference_count`` computes it.

Two exact mappings give the certified model: ``certify_state_dict`` (float weights) and
``certify_fixed_point`` (the Q20 integers of a PoT state); they agree wherever both apply.
No ezkl and no torch at import: numpy integers (torch is imported only to read a module or
hand back tensors, so a process that only proves never loads it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from typing import TYPE_CHECKING

import numpy as np

from zkpot.pot import bounds
from zkpot.testset import quantise, round_half_away

if TYPE_CHECKING:
    import torch
    from torch import nn

DEFAULT_SCALE = 7            # inputs and weights in steps of 2^-7
DEFAULT_RANGE = 256 ** 4 - 1  # largest magnitude the circuit's range checks admit (base 256, 4 legs)


class CertificationError(ValueError):
    """The model, weights or data cannot be certified (unsupported layer, off-grid, out of range)."""


class OutOfRange(CertificationError, RuntimeError):
    """A value the circuit range-checks is too large: no proof exists for these weights/data."""


@dataclass(frozen=True)
class Layer:
    """One step of the integer forward pass (``kind`` in linear, conv, relu, maxpool, flatten, identity)."""

    kind: str
    name: str = ""                       # parameter prefix in the state dict (``"0"`` for ``0.weight``)
    stride: int = 1
    padding: int = 0
    kernel: int = 1


def layer_plan(model: "nn.Module") -> tuple[Layer, ...]:
    """The integer forward pass of an ``nn.Sequential`` of the spec's allow-list (``zkpot.spec``)."""
    from torch import nn

    if not isinstance(model, nn.Sequential):
        raise CertificationError("only nn.Sequential classifiers can be certified")
    plan = []
    for name, module in model.named_children():
        if isinstance(module, nn.Linear):
            if module.bias is None:
                raise CertificationError(f"layer {name}: a Linear layer needs a bias")
            plan.append(Layer("linear", name))
        elif isinstance(module, nn.Conv2d):
            if module.bias is None or module.groups != 1 or tuple(module.dilation) != (1, 1) \
                    or len(set(module.stride)) != 1 or len(set(module.padding)) != 1 \
                    or module.padding_mode != "zeros" or len(set(module.kernel_size)) != 1:
                raise CertificationError(f"layer {name}: only square, undilated, ungrouped, "
                                         "zero-padded Conv2d with a bias can be certified")
            plan.append(Layer("conv", name, stride=module.stride[0], padding=module.padding[0],
                              kernel=module.kernel_size[0]))
        elif isinstance(module, nn.ReLU):
            plan.append(Layer("relu"))
        elif isinstance(module, nn.MaxPool2d):
            plan.append(Layer("maxpool", kernel=int(module.kernel_size)))
        elif isinstance(module, nn.Flatten):
            plan.append(Layer("flatten"))
        elif isinstance(module, nn.Dropout):
            plan.append(Layer("identity"))     # inference: dropout is the identity
        else:
            raise CertificationError(f"layer {name}: {type(module).__name__} cannot be certified")
    if not any(layer.kind in ("linear", "conv") for layer in plan):
        raise CertificationError("the model has no weight layer")
    return tuple(plan)


def param_scales(plan: tuple[Layer, ...], input_scale: int = DEFAULT_SCALE,
                 param_scale: int = DEFAULT_SCALE) -> tuple[dict[str, int], int]:
    """Each parameter's fixed-point scale (bits), and the logits' scale.

    A weight layer multiplies its input (scale s) by weights at ``param_scale``: its output, and
    so its bias, are at s + param_scale. A ReLU is computed as x + |x| (twice the ReLU, one
    more bit of scale: the circuit's cheapest exact form). Nothing is rescaled.
    """
    scales, s = {}, input_scale
    for layer in plan:
        if layer.kind in ("linear", "conv"):
            scales[f"{layer.name}.weight"] = param_scale
            s += param_scale
            scales[f"{layer.name}.bias"] = s
        elif layer.kind == "relu":
            s += 1
    return scales, s


def quantise_inputs(X, scale: int = DEFAULT_SCALE) -> np.ndarray:
    """Features as integers at ``scale``: float32 values times 2^scale, rounded half away from
    zero, exactly as ezkl quantises a float input (``zkpot.testset.quantise``, the one rule).
    ``CertificationError`` for a NaN, an infinity or a value beyond 2^62 on the grid (found by an
    attack: all of them became -2^63, so different shards shared one commitment)."""
    x = np.asarray(X, dtype=np.float32)
    if not np.isfinite(x).all():
        raise CertificationError("a feature is NaN or infinite")
    if x.size and float(np.abs(x).max()) * 2.0 ** scale >= 2.0 ** 62:
        raise CertificationError(f"a feature is beyond 2^62 at scale {scale}")
    return quantise(x, scale)


def labels_onehot(y, num_classes: int) -> np.ndarray:
    """Integer labels (a 1-D array) as one-hot rows (int64); raise ``CertificationError`` for a
    label outside [0, num_classes). A 2-D array is taken as label rows and must be one-hot."""
    arr = np.asarray(y)
    if arr.ndim == 2:
        if arr.shape[1] != num_classes or not is_onehot(arr).all():
            raise CertificationError("label rows must be one-hot: entries 0 or 1, exactly one 1")
        return arr.astype(np.int64)
    labels = arr.reshape(-1)
    if labels.size and (not np.all(np.equal(np.mod(labels, 1), 0))
                        or labels.min() < 0 or labels.max() >= num_classes):
        raise CertificationError(f"labels must be integers in [0, {num_classes})")
    return np.eye(num_classes, dtype=np.int64)[labels.astype(np.int64)]


def is_onehot(rows: np.ndarray) -> np.ndarray:
    """Per row: every entry is 0 or 1 and exactly one is 1."""
    rows = np.asarray(rows)
    return ((rows == 0) | (rows == 1)).all(axis=1) & (rows.sum(axis=1) == 1)




@dataclass
class CertifiedModel:
    """Integer weights of a classifier, each at its scale, and how to evaluate them exactly."""

    plan: tuple[Layer, ...]
    weights: dict[str, np.ndarray]       # int64, named as the module's state dict
    scales: dict[str, int]
    input_scale: int = DEFAULT_SCALE
    param_scale: int = DEFAULT_SCALE
    range_limit: int = field(default=DEFAULT_RANGE, repr=False)

    @property
    def logit_scale(self) -> int:
        """The logits' scale: one step of the margin is 2^-logit_scale in float terms."""
        return param_scales(self.plan, self.input_scale, self.param_scale)[1]

    def state_dict(self) -> dict[str, "torch.Tensor"]:
        """The certified weights as float32 tensors exactly on their grids (k / 2^scale)."""
        import torch

        return {name: torch.from_numpy(np.ldexp(w.astype(np.float64), -self.scales[name])
                                       .astype(np.float32)) for name, w in self.weights.items()}

    def export_state_dict(self) -> dict[str, "torch.Tensor"]:
        """``export_arrays`` as torch tensors (what ``torch.onnx.export`` is given at setup)."""
        import torch

        return {name: torch.from_numpy(a) for name, a in self.export_arrays().items()}

    def export_arrays(self) -> dict[str, np.ndarray]:
        """The weights a circuit is compiled with (float32): each grid value k / 2^scale plus a
        sub-step offset in (-1/4, 1/4) of a step, different per entry, that ezkl's rounding
        removes exactly. The offsets keep every tensor non-zero and non-uniform to the ONNX
        optimiser, which at setup would otherwise fold an all-zero or uniform tensor away."""
        out = {}
        for name, w in self.weights.items():
            i = np.arange(w.size, dtype=np.float64).reshape(w.shape)
            offset = (np.mod(i * 0.6180339887 + 0.3, 1.0) - 0.5) / 2
            offset = np.where(np.abs(offset) < 0.02, 0.1, offset)
            value = np.ldexp(w.astype(np.float64) + offset, -self.scales[name]).astype(np.float32)
            exact = np.ldexp(w.astype(np.float64), -self.scales[name]).astype(np.float32)
            back = round_half_away(value.astype(np.float64) * 2.0 ** self.scales[name])
            out[name] = np.where(back == w, value, exact)
        return out

    def logits(self, X) -> np.ndarray:
        """The integer logits (scale ``logit_scale``) of features ``X``, exactly."""
        a = quantise_inputs(X, self.input_scale)
        for layer in self.plan:
            if layer.kind in ("linear", "conv"):
                w, b = self.weights[f"{layer.name}.weight"], self.weights[f"{layer.name}.bias"]
                _check_product(a, w, b)
            if layer.kind == "linear":
                a = a.reshape(a.shape[0], -1) @ w.T + b
            elif layer.kind == "conv":
                a = _conv(a, w, b, layer.stride, layer.padding)
            elif layer.kind == "relu":
                self._check_range(a, "a ReLU input")
                a = a + np.abs(a)           # 2 relu(a), at one more bit of scale
            elif layer.kind == "maxpool":
                self._check_range(2 * a, "a max-pooling comparison")
                a = _maxpool(a, layer.kernel)
            elif layer.kind == "flatten":
                a = a.reshape(a.shape[0], -1)
            _check_exact(a)
        return a

    def _check_range(self, values: np.ndarray, what: str) -> None:
        if values.size and int(np.abs(values).max()) > self.range_limit:
            raise OutOfRange(f"{what} of magnitude {int(np.abs(values).max())} exceeds the "
                                     f"circuit's range {self.range_limit}: use smaller weights or inputs")


def _check_product(a: np.ndarray, w: np.ndarray, b: np.ndarray) -> None:
    """Refuse a layer whose int64 products could wrap before ``_check_exact`` sees them (found
    by an attack: eight products of 2^61 summed to 2^64 and read as 0): the bound is computed
    in Python integers from the largest input, weight and bias and the fan-in."""
    if not (a.size and w.size):
        return
    fan_in = w[0].size
    bound = int(np.abs(a).max()) * int(np.abs(w).max()) * fan_in + (int(np.abs(b).max()) if b.size else 0)
    if bound >= 2 ** 62:
        raise CertificationError("integer overflow in the certified model's forward pass")


def _check_exact(a: np.ndarray) -> None:
    # int64 products and sums stay exact far below 2^62; the circuit's range is 2^32
    if a.size and int(np.abs(a).max()) >= 2 ** 62:
        raise CertificationError("integer overflow in the certified model's forward pass")


def _conv(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int, padding: int) -> np.ndarray:
    n, c, h, wd = x.shape
    o, _, k, _ = w.shape
    if padding:
        x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    ho, wo = (h + 2 * padding - k) // stride + 1, (wd + 2 * padding - k) // stride + 1
    cols = np.empty((n, ho, wo, c, k, k), dtype=np.int64)
    for i in range(k):
        for j in range(k):
            cols[:, :, :, :, i, j] = x[:, :, i:i + stride * ho:stride, j:j + stride * wo:stride] \
                .transpose(0, 2, 3, 1)
    out = cols.reshape(n * ho * wo, c * k * k) @ w.reshape(o, -1).T + b
    return out.reshape(n, ho, wo, o).transpose(0, 3, 1, 2)


def _maxpool(x: np.ndarray, k: int) -> np.ndarray:
    n, c, h, w = x.shape
    h2, w2 = h // k, w // k
    return x[:, :, :h2 * k, :w2 * k].reshape(n, c, h2, k, w2, k).max(axis=(3, 5))


def _on_grid(name: str, values: np.ndarray, scale: int) -> np.ndarray:
    """Integers at ``scale``, refused when float32 cannot hold the grid value exactly, or the
    value is not finite or beyond 2^62 on the grid (found by an attack: 3e38 became -2^63,
    whose absolute value is negative, so the range check passed)."""
    f = np.asarray(values, dtype=np.float32).astype(np.float64) * 2.0 ** scale
    if not np.isfinite(f).all() or (f.size and float(np.abs(f).max()) >= 2.0 ** 62):
        raise OutOfRange(f"{name}: a value is not finite or beyond 2^62 on the 2^-{scale} grid")
    q = round_half_away(f)
    back = np.ldexp(q.astype(np.float64), -scale).astype(np.float32).astype(np.float64)
    if not np.array_equal(back * 2.0 ** scale, q.astype(np.float64)):
        raise CertificationError(f"{name}: values too large for the 2^-{scale} grid in float32")
    return q


def certify_state_dict(model: "nn.Module | tuple[Layer, ...]", state_dict: Mapping[str, object],
                       input_scale: int = DEFAULT_SCALE, param_scale: int = DEFAULT_SCALE,
                       range_limit: int = DEFAULT_RANGE) -> CertifiedModel:
    """The certified model of float weights: each tensor rounded (half away from zero) to its
    grid. ``model``: the module, or its ``layer_plan``."""
    plan = model if isinstance(model, tuple) else layer_plan(model)
    scales, _ = param_scales(plan, input_scale, param_scale)
    missing = set(scales) - set(state_dict)
    if missing or set(state_dict) - set(scales):
        raise CertificationError(f"state dict does not match the model: missing {sorted(missing)}, "
                                 f"unexpected {sorted(set(state_dict) - set(scales))}")
    weights = {name: _on_grid(name, _numpy(state_dict[name]), scales[name]) for name in scales}
    model = CertifiedModel(plan, weights, scales, input_scale, param_scale, range_limit)
    for name, w in weights.items():
        model._check_range(w, name)
    return model


def certify_fixed_point(model: "nn.Module | tuple[Layer, ...]", state,
                        input_scale: int = DEFAULT_SCALE, param_scale: int = DEFAULT_SCALE,
                        range_limit: int = DEFAULT_RANGE) -> CertifiedModel:
    """The certified model of a PoT state (``zkpot.stage.TrainingState`` or its bytes), exactly
    from its Q20 integers: a tensor at scale s gets round_half_away(w / 2^(20 - s)), or
    w * 2^(s - 20) when s >= 20. Equal to ``certify_state_dict`` of the state's float weights.
    ``model``: the module, or its ``layer_plan`` (then torch is not needed)."""
    from zkpot.pot.state import TrainingState

    if isinstance(state, (bytes, bytearray)):
        state = TrainingState.from_bytes(bytes(state))
    plan = model if isinstance(model, tuple) else layer_plan(model)
    scales, _ = param_scales(plan, input_scale, param_scale)
    if set(state.params) != set(scales):
        raise CertificationError(f"state parameters {sorted(state.params)} do not match the model "
                                 f"{sorted(scales)}")
    weights = {name: _from_q20(np.asarray(state.params[name], dtype=np.int64), scales[name])
               for name in scales}
    certified = CertifiedModel(plan, weights, scales, input_scale, param_scale, range_limit)
    for name, w in weights.items():
        certified._check_range(w, name)
    return certified


def _from_q20(w: np.ndarray, scale: int) -> np.ndarray:
    shift = bounds.W_FRAC - scale
    if shift <= 0:
        return w << -shift
    magnitude = (np.abs(w) + (1 << (shift - 1))) >> shift
    return np.sign(w) * magnitude


def _numpy(value) -> np.ndarray:
    if hasattr(value, "detach"):                # a torch tensor (torch is loaded if one exists)
        return value.detach().cpu().numpy()
    return np.asarray(value)


def correct_samples(model: CertifiedModel, X, y, margin_steps: int = 1) -> np.ndarray:
    """Per sample, whether it counts (see the module doc). ``y``: labels or label rows (rows
    that are not one-hot count 0, as in the circuit)."""
    if margin_steps < 1:
        raise CertificationError("the margin is at least one step")
    z = model.logits(X)
    rows = np.asarray(y)
    classes = z.shape[1]
    rows = labels_onehot(rows, classes) if rows.ndim == 1 else rows.astype(np.int64)
    if rows.shape != z.shape:
        raise CertificationError(f"label rows of shape {rows.shape}, logits {z.shape}")
    valid = is_onehot(rows)
    y_idx = np.where(valid, rows.argmax(axis=1), 0)
    true = z[np.arange(len(z)), y_idx]
    others = np.where(rows * valid[:, None] == 1, np.iinfo(np.int64).min, z).max(axis=1)
    # what the circuit range-checks: its ReLU chain over z - onehot, the final comparison
    model._check_range(np.abs(z).max(initial=0) * 2 + 2 ** model.logit_scale + margin_steps
                       + np.zeros(1, dtype=np.int64), "a logit difference")
    return valid & (true - others >= margin_steps)


def reference_count(model: CertifiedModel, X, y, margin_steps: int = 1) -> int:
    """How many samples of (X, y) the certified model gets right, exactly as the circuit counts."""
    return int(correct_samples(model, X, y, margin_steps).sum())


__all__ = ["CertificationError", "CertifiedModel", "OutOfRange", "Layer", "certify_fixed_point",
           "certify_state_dict", "correct_samples", "is_onehot", "labels_onehot", "layer_plan",
           "param_scales", "quantise_inputs", "reference_count", "round_half_away"]
