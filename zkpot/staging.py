"""tau and Delta: the training work of a spec, and how the training data is cut into stages.

tau(spec, samples) = 3 * F * samples, where F is the forward multiply-add count per sample
times two (FLOPs): Linear 2*in*out, Conv2d 2*C_in*k*k*C_out*H_out*W_out (every output
position); ReLU, pooling, dropout and the loss are not counted. The factor 3 counts the
backward pass as twice the forward one, so for dense networks tau = 6 * weights * samples.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from zkpot.hashing import keccak
from zkpot.spec import Conv2d, Linear, ModelSpec, infer_shapes

MAX_ADJUST = 4.0   # one adjustment changes the target by at most this factor either way


class StagingError(ValueError):
    """Stages cannot be planned with these inputs."""


def forward_flops(spec: ModelSpec, input_shape: tuple[int, ...], num_classes: int) -> int:
    """FLOPs of one forward pass of one sample (see module doc)."""
    shapes = infer_shapes(spec, tuple(input_shape), num_classes)
    total = 0
    for layer, out in zip(spec.layers, shapes):
        if isinstance(layer, Linear):
            total += 2 * layer.in_features * layer.out_features
        elif isinstance(layer, Conv2d):
            total += 2 * layer.in_channels * layer.kernel_size**2 * out[0] * out[1] * out[2]
    return total


def training_flops(spec: ModelSpec, samples: int, input_shape: tuple[int, ...], num_classes: int) -> int:
    """tau: 3 x forward FLOPs per sample x samples (= 6 x weights x samples for dense layers)."""
    return 3 * forward_flops(spec, input_shape, num_classes) * int(samples)


def epoch_order(n_train: int, seed: int, epoch: int) -> np.ndarray:
    """The seeded order of one epoch: argsort of PCG64 raw words keyed by keccak(seed, epoch)."""
    key = int.from_bytes(keccak(b"zkpot.epoch" + seed.to_bytes(8, "big") + epoch.to_bytes(8, "big"))[:16], "big")
    return np.argsort(np.random.PCG64(key).random_raw(n_train), kind="stable")


def stage_size(spec: ModelSpec, n_train: int, target_flops: int, input_shape: tuple[int, ...],
               num_classes: int) -> int:
    """Samples per stage chunk: whole batches of about ``target_flops`` (at least one batch)."""
    if n_train < spec.batch_size:
        raise StagingError(f"{n_train} training samples are fewer than one batch of {spec.batch_size}")
    if target_flops <= 0:
        raise StagingError("target work per stage must be positive")
    per_sample = training_flops(spec, 1, input_shape, num_classes)
    if per_sample <= 0:
        raise StagingError("the spec has no Linear or Conv2d layer: its training work is zero")
    batches = max(1, target_flops // (per_sample * spec.batch_size))
    return batches * spec.batch_size


def stage_count(spec: ModelSpec, n_train: int, target_flops: int, input_shape: tuple[int, ...],
                num_classes: int) -> int:
    """How many chunks ``plan_stages`` makes, by arithmetic alone (nothing is allocated)."""
    size = stage_size(spec, n_train, target_flops, input_shape, num_classes)
    total = spec.epochs * n_train
    count = -(-total // size)
    if count > 1 and total - (count - 1) * size < spec.batch_size:
        count -= 1
    return count


def plan_stages(spec: ModelSpec, n_train: int, target_flops: int, input_shape: tuple[int, ...],
                num_classes: int, seed: int | None = None) -> list[np.ndarray]:
    """Delta: all epochs in seeded order, cut into index chunks of about ``target_flops`` each.

    Each chunk holds a multiple of the batch size (at least one batch); a final remainder smaller
    than one batch joins the chunk before it.
    """
    size = stage_size(spec, n_train, target_flops, input_shape, num_classes)
    seed = spec.seed if seed is None else seed
    order = np.concatenate([epoch_order(n_train, seed, e) for e in range(spec.epochs)])
    chunks = [order[i:i + size] for i in range(0, len(order), size)]
    if len(chunks) > 1 and len(chunks[-1]) < spec.batch_size:
        chunks[-2:] = [np.concatenate(chunks[-2:])]
    return chunks


def adjust_target(target: int, recent_stage_seconds: Sequence[float], desired_seconds: float) -> int:
    """Difficulty-like adjustment: scale the target by desired / mean recent time, bounded 4x."""
    times = [float(t) for t in recent_stage_seconds if t > 0 and math.isfinite(t)]
    if not times or desired_seconds <= 0:
        return int(target)
    factor = min(MAX_ADJUST, max(1.0 / MAX_ADJUST, desired_seconds / (sum(times) / len(times))))
    return max(1, int(target * factor))
