"""Model spec: a declarative JSON description of the network and its training, from an
allow-list of layers. Nothing in a spec is ever executed; it is validated and interpreted.

Layers (``type``): Linear(in_features, out_features), ReLU, Conv2d(in_channels, out_channels,
kernel_size, stride=1, padding=0), MaxPool2d(kernel_size) (stride = kernel_size), Flatten,
Dropout(p). Loss: ``cross_entropy``. Optimiser: ``sgd`` (lr, momentum) or ``adam`` (lr, betas,
eps). ``batch_size`` >= 2 keeps per-sample losses (the training secret) out of any single
observable batch value.

Every numeric field is bounded (docs/pot.md, "Bounds"): the bounds are what keeps every value of
the exact fixed-point stage function in range, so a spec that validates (and fits its dataset)
is one the stage function can train.
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

MAX_FAN_IN = 4096          # exact fixed-point products need bounded reductions (docs/pot.md)
MAX_WIDTH = 4096           # features/channels per layer
MAX_PARAMS = 5_000_000
MAX_LAYERS = 64
MAX_KERNEL = 11
MAX_EPOCHS = 1000
MAX_BATCH = 4096
MAX_CLASSES = 1000
MAX_ACTIVATIONS = 1_000_000   # values per sample out of any layer
MIN_LR = 2.0**-24          # the smallest learning rate that is not 0 in Q24
MAX_MOMENTUM = 0.999       # SGD: keeps |momentum buffer| <= 2^38, so mu * buffer < 2^63
MAX_BETA1 = 0.999          # Adam: keeps the bias-corrected step alpha_t below 2^34
MAX_BETA2 = 0.99999        # Adam: keeps beta2 below 1 in Q24 (so v keeps moving)


class SpecError(ValueError):
    """A model spec is malformed or does not fit the dataset."""


_CONFIG = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class _Layer(BaseModel):
    model_config = _CONFIG


class Linear(_Layer):
    type: Literal["Linear"]
    in_features: int = Field(ge=1, le=MAX_WIDTH)
    out_features: int = Field(ge=1, le=MAX_WIDTH)


class ReLU(_Layer):
    type: Literal["ReLU"]


class Conv2d(_Layer):
    type: Literal["Conv2d"]
    in_channels: int = Field(ge=1, le=MAX_WIDTH)
    out_channels: int = Field(ge=1, le=MAX_WIDTH)
    kernel_size: int = Field(ge=1, le=MAX_KERNEL)
    stride: int = Field(1, ge=1, le=MAX_KERNEL)
    padding: int = Field(0, ge=0, le=MAX_KERNEL)


class MaxPool2d(_Layer):
    type: Literal["MaxPool2d"]
    kernel_size: int = Field(ge=1, le=MAX_KERNEL)


class Flatten(_Layer):
    type: Literal["Flatten"]


class Dropout(_Layer):
    type: Literal["Dropout"]
    p: float = Field(ge=0.0, le=0.9)


Layer = Annotated[Union[Linear, ReLU, Conv2d, MaxPool2d, Flatten, Dropout], Field(discriminator="type")]
ALLOWED_LAYERS = ("Linear", "ReLU", "Conv2d", "MaxPool2d", "Flatten", "Dropout")


class SGD(BaseModel):
    """torch.optim.SGD (dampening 0); lr in [2^-24, 1], momentum in [0, 0.999]."""

    model_config = _CONFIG
    type: Literal["sgd"]
    lr: float = Field(ge=MIN_LR, le=1.0, description="at most 1: lr * momentum buffer (Q24 x Q24) stays below 2^63")
    momentum: float = Field(0.0, ge=0.0, le=MAX_MOMENTUM,
                            description="at most 0.999: the momentum buffer stays within 2^38 (Q24)")


class Adam(BaseModel):
    """Adam; lr in [2^-24, 1], beta1 in [0, 0.999], beta2 in [0, 0.99999], eps in (0, 1]."""

    model_config = _CONFIG
    type: Literal["adam"]
    lr: float = Field(ge=MIN_LR, le=1.0)
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = Field(1e-8, gt=0.0, le=1.0)

    @field_validator("betas")
    @classmethod
    def _betas_in_range(cls, betas: tuple[float, float]) -> tuple[float, float]:
        b1, b2 = betas
        if not 0.0 <= b1 <= MAX_BETA1:
            raise ValueError(f"beta1 = {b1} must be in [0, {MAX_BETA1}]: as beta1 nears 1 the bias-corrected "
                             "step lr / (1 - beta1^t) grows without bound and the fixed-point update would overflow")
        if not 0.0 <= b2 <= MAX_BETA2:
            raise ValueError(f"beta2 = {b2} must be in [0, {MAX_BETA2}]: a negative beta2 makes the second moment "
                             "negative (no square root), and beta2 rounding to 1 in Q24 freezes it")
        return betas


Optimizer = Annotated[Union[SGD, Adam], Field(discriminator="type")]


class ModelSpec(BaseModel):
    """A network and how to train it; see the module doc for the allow-list."""

    model_config = _CONFIG
    layers: list[Layer] = Field(min_length=1, max_length=MAX_LAYERS)
    loss: Literal["cross_entropy"] = "cross_entropy"
    optimizer: Optimizer
    batch_size: int = Field(ge=2, le=MAX_BATCH)
    epochs: int = Field(1, ge=1, le=MAX_EPOCHS)
    seed: int = Field(0, ge=0, lt=2**63)

    @classmethod
    def from_json(cls, data: str | bytes | dict[str, Any]) -> "ModelSpec":
        """Parse and validate a spec; raise ``SpecError`` naming the offending field."""
        if isinstance(data, (str, bytes)):
            try:
                data = json.loads(data)
            except (ValueError, RecursionError) as exc:      # bad JSON or UTF-8, huge integers, deep nesting
                raise SpecError(f"spec is not valid JSON: {str(exc)[:200] or type(exc).__name__}") from None
        if not isinstance(data, dict):
            raise SpecError("spec must be a JSON object")
        layers = data.get("layers")
        if layers is not None and not isinstance(layers, list):
            raise SpecError(f"layers: must be a list of layer objects, got {type(layers).__name__}")
        for i, layer in enumerate(layers or []):
            if not isinstance(layer, dict):
                raise SpecError(f"layer {i}: must be an object with a 'type', got {type(layer).__name__}")
            kind = layer.get("type")
            if kind not in ALLOWED_LAYERS:
                raise SpecError(f"layer {i}: unknown layer type {kind!r} (allowed: {', '.join(ALLOWED_LAYERS)})")
        opt = data.get("optimizer")
        if opt is not None and not isinstance(opt, dict):
            raise SpecError(f"optimizer: must be an object with a 'type', got {type(opt).__name__}")
        if isinstance(opt, dict) and opt.get("type") not in ("sgd", "adam"):
            raise SpecError(f"optimizer: unknown type {opt.get('type')!r} (allowed: sgd, adam)")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise SpecError(_describe(exc)) from None

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain JSON-ready data (defaults filled in)."""
        return self.model_dump(mode="json")

    def check_against(self, input_shape: tuple[int, ...], num_classes: int) -> list[tuple[int, ...]]:
        """Check the layers against a dataset; return each layer's output shape or raise ``SpecError``."""
        return infer_shapes(self, tuple(input_shape), num_classes)

    def param_count(self, input_shape: tuple[int, ...]) -> int:
        """Number of trainable parameters."""
        total = 0
        for layer in self.layers:
            if isinstance(layer, Linear):
                total += layer.out_features * (layer.in_features + 1)
            elif isinstance(layer, Conv2d):
                total += layer.out_channels * (layer.in_channels * layer.kernel_size**2 + 1)
        return total


# why a numeric field is bounded, appended to a range error (docs/pot.md, "Bounds")
_REASONS = {
    "optimizer.lr": "lr is held in Q24, so below 2^-24 it is 0; above 1, lr x momentum buffer could pass 2^63",
    "optimizer.momentum": "above 0.999 the momentum buffer could pass 2^38 and momentum x buffer 2^63",
    "optimizer.eps": "eps is added to sqrt(v) in Q24",
    "batch_size": "at least 2 so no batch mean is one sample's loss; at most 4096 keeps gradient sums exact",
    "p": "dropout scales what it keeps by 1/(1 - p), at most 10, so products stay exact",
}


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        loc = loc.replace("layers.", "layer ").replace(".Linear", "").replace(".Conv2d", "")
        loc = loc.replace("optimizer.sgd.", "optimizer.").replace("optimizer.adam.", "optimizer.")
        for name in ALLOWED_LAYERS:
            loc = loc.replace(f".{name}", "")
        reason = _REASONS.get(loc.rsplit(".", 1)[-1] if loc.startswith("layer ") else loc)
        range_error = err["type"] in ("greater_than", "greater_than_equal", "less_than", "less_than_equal")
        parts.append(f"{loc}: {err['msg']}" + (f" ({reason})" if reason and range_error else ""))
    return "invalid spec: " + "; ".join(parts)


def layer_shapes(spec: ModelSpec, input_shape: tuple[int, ...]) -> list[tuple[int, ...]]:
    """Per-layer output shapes (without batch) for an input shape; ``SpecError`` on the first
    layer that does not fit (shape, fan-in, activations per sample)."""
    shape = tuple(input_shape)
    shapes = []
    for i, layer in enumerate(spec.layers):
        name = f"layer {i} ({layer.type})"
        if isinstance(layer, Linear):
            if len(shape) != 1:
                raise SpecError(f"{name}: expects a flat input, got shape {shape}; add a Flatten layer")
            if shape[0] != layer.in_features:
                raise SpecError(f"{name}: in_features={layer.in_features} but its input has {shape[0]} features")
            shape = (layer.out_features,)
        elif isinstance(layer, Conv2d):
            if len(shape) != 3:
                raise SpecError(f"{name}: expects input (channels, height, width), got shape {shape}")
            if shape[0] != layer.in_channels:
                raise SpecError(f"{name}: in_channels={layer.in_channels} but its input has {shape[0]} channels")
            k, s, p = layer.kernel_size, layer.stride, layer.padding
            h, w = (shape[1] + 2 * p - k) // s + 1, (shape[2] + 2 * p - k) // s + 1
            if h < 1 or w < 1:
                raise SpecError(f"{name}: kernel {k} does not fit input {shape[1]}x{shape[2]} with padding {p}")
            shape = (layer.out_channels, h, w)
        elif isinstance(layer, MaxPool2d):
            if len(shape) != 3:
                raise SpecError(f"{name}: expects input (channels, height, width), got shape {shape}")
            k = layer.kernel_size
            if shape[1] < k or shape[2] < k:
                raise SpecError(f"{name}: kernel {k} larger than input {shape[1]}x{shape[2]}")
            shape = (shape[0], shape[1] // k, shape[2] // k)
        elif isinstance(layer, Flatten):
            shape = (math.prod(shape),)
        shapes.append(shape)
        fan_in = _fan_in(layer)
        if fan_in > MAX_FAN_IN:
            raise SpecError(f"{name}: fan-in {fan_in} exceeds the limit {MAX_FAN_IN}")
        if math.prod(shape) > MAX_ACTIVATIONS:
            raise SpecError(f"{name}: output of {math.prod(shape)} values per sample is too large")
    return shapes


def infer_shapes(spec: ModelSpec, input_shape: tuple[int, ...], num_classes: int) -> list[tuple[int, ...]]:
    """Per-layer output shapes (without batch); ``SpecError`` on the first mismatch."""
    if not 2 <= num_classes <= MAX_CLASSES:
        raise SpecError(f"num_classes must be in 2..{MAX_CLASSES}, got {num_classes}")
    shapes = layer_shapes(spec, input_shape)
    shape = shapes[-1]
    if shape != (num_classes,):
        raise SpecError(f"the last layer outputs shape {shape}, expected ({num_classes},) for {num_classes} classes")
    params = spec.param_count(input_shape)
    if params == 0:
        raise SpecError("the model has no trainable layer (add a Linear or Conv2d layer)")
    if params > MAX_PARAMS:
        raise SpecError(f"model has {params} parameters, more than the limit {MAX_PARAMS}")
    return shapes


def _fan_in(layer) -> int:
    if isinstance(layer, Linear):
        return layer.in_features
    if isinstance(layer, Conv2d):
        return layer.in_channels * layer.kernel_size**2
    return 0


def build_model(spec: ModelSpec):
    """The float torch module for ``spec`` (``nn.Sequential``; parameter names ``<i>.weight``)."""
    from torch import nn

    modules = []
    for layer in spec.layers:
        if isinstance(layer, Linear):
            modules.append(nn.Linear(layer.in_features, layer.out_features))
        elif isinstance(layer, Conv2d):
            modules.append(nn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel_size,
                                     stride=layer.stride, padding=layer.padding))
        elif isinstance(layer, MaxPool2d):
            modules.append(nn.MaxPool2d(layer.kernel_size))
        elif isinstance(layer, ReLU):
            modules.append(nn.ReLU())
        elif isinstance(layer, Flatten):
            modules.append(nn.Flatten())
        elif isinstance(layer, Dropout):
            modules.append(nn.Dropout(layer.p))
    return nn.Sequential(*modules)


PRESETS: dict[str, dict[str, Any]] = {
    # for demo_dataset("digits"): 64 features in [0, 1], 10 classes
    "digits-mlp": {
        "layers": [{"type": "Linear", "in_features": 64, "out_features": 16}, {"type": "ReLU"},
                   {"type": "Dropout", "p": 0.1},
                   {"type": "Linear", "in_features": 16, "out_features": 10}],
        "optimizer": {"type": "sgd", "lr": 0.1, "momentum": 0.9},
        "batch_size": 16, "epochs": 4, "seed": 7,
    },
    # for demo_dataset("digits-images"): 1x8x8 images in [0, 1], 10 classes
    "digits-cnn": {
        "layers": [{"type": "Conv2d", "in_channels": 1, "out_channels": 8, "kernel_size": 3, "padding": 1},
                   {"type": "ReLU"}, {"type": "MaxPool2d", "kernel_size": 2}, {"type": "Flatten"},
                   {"type": "Linear", "in_features": 128, "out_features": 10}],
        "optimizer": {"type": "adam", "lr": 0.01},
        "batch_size": 16, "epochs": 4, "seed": 11,
    },
    # for demo_dataset("digits-images"): a lean CNN, the stride in place of pooling (its
    # accuracy circuit costs a fraction of digits-cnn's rows per sample: docs/zk.md)
    "digits-cnn-s2": {
        "layers": [{"type": "Conv2d", "in_channels": 1, "out_channels": 8, "kernel_size": 3,
                    "stride": 2, "padding": 1},
                   {"type": "ReLU"}, {"type": "Flatten"},
                   {"type": "Linear", "in_features": 128, "out_features": 10}],
        "optimizer": {"type": "adam", "lr": 0.01},
        "batch_size": 16, "epochs": 4, "seed": 11,
    },
    # for demo_dataset("wine"): 13 standardised features, 3 classes
    "wine-mlp": {
        "layers": [{"type": "Linear", "in_features": 13, "out_features": 16}, {"type": "ReLU"},
                   {"type": "Linear", "in_features": 16, "out_features": 3}],
        "optimizer": {"type": "adam", "lr": 0.01},
        "batch_size": 8, "epochs": 10, "seed": 3,
    },
    # for demo_dataset("digits28"): 784 features (MNIST-shaped 28x28 digits), 10 classes
    "digits28-mlp": {
        "layers": [{"type": "Linear", "in_features": 784, "out_features": 256}, {"type": "ReLU"},
                   {"type": "Linear", "in_features": 256, "out_features": 128}, {"type": "ReLU"},
                   {"type": "Linear", "in_features": 128, "out_features": 10}],
        "optimizer": {"type": "sgd", "lr": 0.05, "momentum": 0.9},
        "batch_size": 32, "epochs": 4, "seed": 5,
    },
    # for demo_dataset("digits28-images"): 1x28x28 images, 10 classes; LeNet-5's layout
    "digits28-lenet": {
        "layers": [{"type": "Conv2d", "in_channels": 1, "out_channels": 6, "kernel_size": 5, "padding": 2},
                   {"type": "ReLU"}, {"type": "MaxPool2d", "kernel_size": 2},
                   {"type": "Conv2d", "in_channels": 6, "out_channels": 16, "kernel_size": 5},
                   {"type": "ReLU"}, {"type": "MaxPool2d", "kernel_size": 2}, {"type": "Flatten"},
                   {"type": "Linear", "in_features": 400, "out_features": 120}, {"type": "ReLU"},
                   {"type": "Linear", "in_features": 120, "out_features": 84}, {"type": "ReLU"},
                   {"type": "Linear", "in_features": 84, "out_features": 10}],
        "optimizer": {"type": "adam", "lr": 0.002},
        "batch_size": 32, "epochs": 4, "seed": 13,
    },
}

# the bundled dataset each preset is shaped for (``zkpot.datasets.demo_dataset`` names)
PRESET_DATASETS: dict[str, str] = {"digits-mlp": "digits", "digits-cnn": "digits-images",
                                   "digits-cnn-s2": "digits-images", "wine-mlp": "wine",
                                   "digits28-mlp": "digits28", "digits28-lenet": "digits28-images"}


def preset(name: str) -> ModelSpec:
    """A bundled spec by name (``PRESETS``: ``digits-mlp``, ``digits-cnn``, ``digits-cnn-s2``,
    ``wine-mlp``, ...)."""
    if name not in PRESETS:
        raise SpecError(f"unknown preset {name!r} (known: {', '.join(PRESETS)})")
    return ModelSpec.from_json(PRESETS[name])
