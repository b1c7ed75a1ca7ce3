"""A stage's inputs per attempt: the order its samples are trained in, and its seed.

A stage is agreed in attempts (docs/pot.md, "Stage agreement"). An attempt that ends without
agreement has had its declarations opened, so its training secret ρ and result are public; if
the next attempt trained the same way, anyone could declare them. So attempt 0 trains the
chunk in the manifest's order with the spec's seed, and every later attempt k trains it in an
order and with a seed derived from (seed, stage, k): a new ρ and a new S_{i+1}, learned again
only by training. The derivation is keccak256 throughout (no library RNG whose algorithm could
change between versions):

- order: the sample indices i = 0..n-1 sorted by keccak256("zkpot.attempt.order" ‖ seed ‖ stage
  ‖ k ‖ i), each integer as 8 bytes big-endian;
- seed: the first 8 bytes of keccak256("zkpot.attempt.seed" ‖ seed ‖ stage ‖ k), big-endian,
  with the top bit cleared (a spec seed lies in [0, 2^63)).
"""

from __future__ import annotations

import numpy as np

from zkpot.hashing import keccak


def _u64(*values: int) -> bytes:
    return b"".join(int(v).to_bytes(8, "big") for v in values)


def attempt_order(n: int, seed: int, stage: int, attempt: int) -> np.ndarray:
    """The order attempt ``attempt`` of ``stage`` trains a chunk of ``n`` samples in."""
    if attempt == 0:
        return np.arange(n)
    prefix = b"zkpot.attempt.order" + _u64(seed, stage, attempt)
    keys = [keccak(prefix + _u64(i)) for i in range(n)]
    return np.array(sorted(range(n), key=keys.__getitem__), dtype=np.int64)


def attempt_seed(seed: int, stage: int, attempt: int) -> int:
    """The seed (dropout masks) of attempt ``attempt`` of ``stage``."""
    if attempt == 0:
        return seed
    digest = keccak(b"zkpot.attempt.seed" + _u64(seed, stage, attempt))
    return int.from_bytes(digest[:8], "big") & (2**63 - 1)


def attempt_inputs(x: np.ndarray, y: np.ndarray, seed: int, stage: int,
                   attempt: int) -> tuple[np.ndarray, np.ndarray, int]:
    """(features, labels, seed) that attempt ``attempt`` of ``stage`` trains on."""
    order = attempt_order(len(y), seed, stage, attempt)
    return np.asarray(x)[order], np.asarray(y)[order], attempt_seed(seed, stage, attempt)


__all__ = ["attempt_inputs", "attempt_order", "attempt_seed"]
