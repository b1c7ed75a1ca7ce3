"""Exact fixed-point arithmetic of the stage function: scales, bounds, exact products, tables.

Every value is an integer. Activations, gradients and parameters are held in float64 tensors
(integers below 2^53 are exact there, and float64 is what BLAS multiplies); optimiser buffers and
the loss are int64. Scales (fractional bits): activations and losses Q16, weights Q20,
gradients Q24, Adam's second moment Q32. Rescaling rounds half up: ``floor(x / 2^s + 1/2)``.

A matrix product is exact when every partial sum is an integer of magnitude <= 2^53 (or such an
integer times a power of two): then IEEE double arithmetic makes no rounding in any summation
order, blocking, FMA use or thread count, on any device. ``fits`` tests that from the operands'
maxima; ``mm_exact`` handles the products that do not fit (split into limbs and blocks,
reassembled exactly). See docs/pot.md.
"""

from __future__ import annotations

from decimal import Decimal, localcontext
from functools import lru_cache

import numpy as np
import torch

from zkpot.pot.bounds import (A_FRAC, ACT_MAX, ADAM_M_MAX, ADAM_V_MAX, EXACT, G_FRAC,  # noqa: F401
                              G_MAX, MAX_REDUCTION, MOMENTUM_MAX, RATIO_MAX, SATURATE, V_FRAC,
                              W_FRAC, W_MAX)

I64, F64 = torch.int64, torch.float64


def fits(k: int, amax: int, bmax: int, extra: int = 0) -> bool:
    """True when a float64 product over ``k`` terms of |a| <= amax, |b| <= bmax (plus ``extra``)
    stays within 2^53, so it is exact (also scaled by a power of two)."""
    return k * amax * bmax + extra <= EXACT


def absmax(t: torch.Tensor) -> int:
    """max |t| as a Python int (0 for an empty tensor); exact for integer-valued floats."""
    if t.numel() == 0:
        return 0
    lo, hi = torch.aminmax(t)
    return int(max(-lo.item(), hi.item()))


def rshift(x, s: int):
    """Round-half-up division of an int64 tensor or array by 2**s (arithmetic shift)."""
    return (x + (1 << (s - 1))) >> s if s > 0 else x


def clamp(x: torch.Tensor, bound: int) -> torch.Tensor:
    """Saturate to [-bound, bound]."""
    return x.clamp(-bound, bound)


def _limbs(a: torch.Tensor, amax: int) -> list[tuple[torch.Tensor, int, int]]:
    """``a`` as a sum of (limb, shift, max|limb|) with a = sum(limb * 2^shift), limbs <= 2^14."""
    if amax <= 2**14:
        return [(a, 0, amax)]
    hi = torch.floor(a * 2.0**-14)
    return [(a - hi * 2.0**14, 0, 2**14)] + [(t, s + 14, m) for t, s, m in _limbs(hi, (amax >> 14) + 1)]


def mm_exact(a: torch.Tensor, b: torch.Tensor, amax: int | None = None, bmax: int | None = None) -> torch.Tensor:
    """a @ b exactly, as int64, clamped to +-2^60 (callers rescale and saturate far below that).

    Integer-valued operands (int64 or float64) of magnitude < 2^30 (activations after a Dropout
    reach 10 x 2^26) and reductions up to 2^32 terms. When the whole product fits (``fits``) it
    is one float64 product. Otherwise the reduction is cut into blocks whose partial sums stay
    within 2^53 (after splitting each operand into 14-bit limbs when that would take more than
    four blocks); the exact result is reassembled from its residue mod 2^62 (int64, no
    overflow) and a float64 estimate whose error (< 2^51: at most 9 x 129 sums of terms below
    2^92 in all) tells the residue's sign and when to saturate.
    """
    k = a.shape[1]
    a, b = a.to(F64), b.to(F64)
    amax = absmax(a) if amax is None else amax
    bmax = absmax(b) if bmax is None else bmax
    if amax == 0 or bmax == 0:
        return torch.zeros(a.shape[0], b.shape[1], dtype=I64, device=a.device)
    if amax >= 2**30 or bmax >= 2**30 or k > MAX_REDUCTION:
        raise OverflowError(f"product operands out of range: max {amax} x {bmax} over {k} terms")
    if fits(k, amax, bmax):
        return (a @ b).to(I64)
    mask62 = (1 << 62) - 1
    low = torch.zeros(a.shape[0], b.shape[1], dtype=I64, device=a.device)   # result mod 2^62
    est = torch.zeros(a.shape[0], b.shape[1], dtype=F64, device=a.device)   # result, approximately
    few_blocks = amax * bmax <= EXACT and k <= 4 * (EXACT // (amax * bmax))
    a_parts = [(a, 0, amax)] if few_blocks else _limbs(a, amax)
    b_parts = [(b, 0, bmax)] if few_blocks else _limbs(b, bmax)
    for al, sa, ma in a_parts:
        for bl, sb, mb in b_parts:
            shift, block = sa + sb, EXACT // (ma * mb)
            for start in range(0, k, block):
                part = al[:, start:start + block] @ bl[start:start + block]      # exact, |part| <= 2^53
                est += part * 2.0**shift
                if shift < 62:
                    low += (part.to(I64) & ((1 << (62 - shift)) - 1)) << shift
                    low &= mask62
    exact = torch.where(low >= 1 << 61, low - (1 << 62), low).clamp_(-SATURATE, SATURATE)
    far = torch.where(est > 0, SATURATE, -SATURATE)
    # |est - result| < 2^51 < 2^58: below the threshold |result| < 2^61 (the residue decides), above
    # it |result| > 2^60 (saturate)
    return torch.where(est.abs() < SATURATE + 2**58, exact, far)


def isqrt(n):
    """Elementwise floor(sqrt(n)) of int64 values 0 <= n < 2^60 (numpy array or torch tensor)."""
    if isinstance(n, torch.Tensor):
        r = torch.sqrt(n.to(F64)).floor().to(I64)
    else:
        r = np.floor(np.sqrt(np.asarray(n, dtype=np.int64).astype(np.float64))).astype(np.int64)
    r = r - (r * r > n).astype(r.dtype) if isinstance(r, np.ndarray) else r - (r * r > n).to(I64)
    up = (r + 1) * (r + 1) <= n         # the float square root is within 2^-21 of the true one
    return r + (up.astype(r.dtype) if isinstance(up, np.ndarray) else up.to(I64))


@lru_cache(maxsize=1)
def tables() -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """exp(-h/64) and exp(-i/2^16) for 1024 values each, ln(1 + i/1024) for 1025, ln 2; all Q30,
    correctly rounded with Python's decimal module (no libm)."""
    with localcontext() as ctx:
        ctx.prec = 40
        one30 = Decimal(2**30)
        exp_hi = [int((-(Decimal(h * 1024) / 65536)).exp() * one30 + Decimal("0.5")) for h in range(1024)]
        exp_lo = [int((-(Decimal(i) / 65536)).exp() * one30 + Decimal("0.5")) for i in range(1024)]
        ln1p = [int((1 + Decimal(i) / 1024).ln() * one30 + Decimal("0.5")) for i in range(1025)]
        ln2 = int(Decimal(2).ln() * one30 + Decimal("0.5"))
    arr = lambda v: np.array(v, dtype=np.int64)  # noqa: E731
    return arr(exp_hi), arr(exp_lo), arr(ln1p), ln2


def exp_neg_q30(d: np.ndarray) -> np.ndarray:
    """exp(-d / 2^16) in Q30 for int64 d >= 0 (Q16), saturating at d = 16."""
    exp_hi, exp_lo, _, _ = tables()
    d = np.clip(np.asarray(d, dtype=np.int64), 0, 2**20 - 1)
    return rshift(exp_hi[d >> 10] * exp_lo[d & 1023], 30)


def ln_q30(s: np.ndarray) -> np.ndarray:
    """ln(s / 2^30) in Q30 for int64 2^30 <= s < 2^41."""
    _, _, ln1p, ln2 = tables()
    s = np.asarray(s, dtype=np.int64)
    e = np.searchsorted(1 << np.arange(31, 42, dtype=np.int64), s, side="right").astype(np.int64)
    f = (s >> e) - (1 << 30)
    idx, r = f >> 20, f & ((1 << 20) - 1)
    lo = ln1p[idx]
    return lo + rshift((ln1p[idx + 1] - lo) * r, 20) + e * ln2


def cross_entropy(z: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample losses (Q16) and d(mean loss)/dz (Q24) for int64 logits z (Q16) and labels y.

    Runs on the host in numpy int64 whatever the device: z is one row per sample, and the
    losses are needed on the host for rho anyway. Every intermediate is below 2^55.
    """
    b = z.shape[0]
    m = z.max(axis=1, keepdims=True)
    e = exp_neg_q30(m - z)                              # Q30; the max class gives exactly 2^30
    s = e.sum(axis=1)                                   # 2^30 <= s <= classes * 2^30 < 2^40
    rows = np.arange(b)
    losses = rshift(ln_q30(s), 14) + (m[:, 0] - z[rows, y])
    p = (e << G_FRAC) // s[:, None]                     # floor; e << 24 <= 2^54
    p[rows, y] -= 1 << G_FRAC
    grad = (2 * p + b) // (2 * b)                       # round half up of (p - onehot) / b
    return losses, grad
