"""Exact fixed-point training arithmetic: every value is an integer held in an int64 tensor.

Scales (fractional bits): activations and losses Q16, weights Q20, gradients Q24, Adam's second
moment Q32. Matrix products run in float64 on integer values; they are exact (so independent of
summation order, thread count and hardware) because each product is split along its reduction
axis into blocks whose worst-case sum, from the operands' actual maxima, stays <= 2^53. Block
results are summed in int64. Rescaling uses round-half-up arithmetic shifts. exp and ln come
from tables computed with Python's decimal module (correctly rounded, no libm). See docs/pot.md.
"""

from __future__ import annotations

from decimal import Decimal, localcontext
from functools import lru_cache

import torch

A_FRAC, W_FRAC, G_FRAC, V_FRAC = 16, 20, 24, 32
ACT_MAX, W_MAX, G_MAX = 2**26, 2**24, 2**27
EXACT = 2**53
I64 = torch.int64


def rshift(x: torch.Tensor, s: int) -> torch.Tensor:
    """Round-half-up division by 2**s (an arithmetic shift; exact and platform-independent)."""
    return (x + (1 << (s - 1))) >> s if s > 0 else x


def clamp(x: torch.Tensor, bound: int) -> torch.Tensor:
    """Saturate to [-bound, bound]."""
    return x.clamp(-bound, bound)


def mm_exact(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Exact integer matrix product a @ b of int64 matrices (see module doc)."""
    k = a.shape[1]
    amax = int(a.abs().max()) if a.numel() else 0
    bmax = int(b.abs().max()) if b.numel() else 0
    if amax == 0 or bmax == 0:
        return torch.zeros(a.shape[0], b.shape[1], dtype=I64, device=a.device)
    if amax * bmax > EXACT:
        raise OverflowError(f"operands too large for exact products ({amax} x {bmax})")
    block = EXACT // (amax * bmax)
    af, bf = a.double(), b.double()
    if k <= block:
        return (af @ bf).to(I64)
    out = torch.zeros(a.shape[0], b.shape[1], dtype=I64, device=a.device)
    for start in range(0, k, block):
        out += (af[:, start:start + block] @ bf[start:start + block]).to(I64)
    return out


def isqrt(n: torch.Tensor) -> torch.Tensor:
    """Elementwise floor(sqrt(n)) of non-negative int64 values below 2^60, exactly."""
    r = torch.sqrt(n.double()).floor().to(I64)
    for _ in range(2):
        r = torch.where(r * r > n, r - 1, r)
    for _ in range(2):
        r = torch.where((r + 1) * (r + 1) <= n, r + 1, r)
    return r


@lru_cache(maxsize=1)
def _tables() -> tuple[list[int], list[int], list[int], int]:
    with localcontext() as ctx:
        ctx.prec = 40
        one30 = Decimal(2**30)
        exp_hi = [int((-(Decimal(h * 1024) / 65536)).exp() * one30 + Decimal("0.5")) for h in range(1024)]
        exp_lo = [int((-(Decimal(i) / 65536)).exp() * one30 + Decimal("0.5")) for i in range(1024)]
        ln1p = [int((1 + Decimal(i) / 1024).ln() * one30 + Decimal("0.5")) for i in range(1025)]
        ln2 = int(Decimal(2).ln() * one30 + Decimal("0.5"))
    return exp_hi, exp_lo, ln1p, ln2


@lru_cache(maxsize=8)
def _device_tables(device: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    exp_hi, exp_lo, ln1p, ln2 = _tables()
    mk = lambda v: torch.tensor(v, dtype=I64, device=device)  # noqa: E731
    return mk(exp_hi), mk(exp_lo), mk(ln1p), ln2


def exp_neg_q30(d: torch.Tensor) -> torch.Tensor:
    """exp(-d / 2^16) in Q30 for d >= 0 (Q16), saturating at d = 16."""
    exp_hi, exp_lo, _, _ = _device_tables(str(d.device))
    d = d.clamp(0, 2**20 - 1)
    return rshift(exp_hi[d >> 10] * exp_lo[d & 1023], 30)


def ln_q30(s: torch.Tensor) -> torch.Tensor:
    """ln(s / 2^30) in Q30 for 2^30 <= s < 2^41."""
    _, _, ln1p, ln2 = _device_tables(str(s.device))
    e = torch.zeros_like(s)
    for k in range(1, 12):
        e += (s >= (1 << (30 + k))).to(I64)
    f = (s >> e) - (1 << 30)
    idx, r = f >> 20, f & ((1 << 20) - 1)
    lo = ln1p[idx]
    return lo + rshift((ln1p[idx + 1] - lo) * r, 20) + e * ln2


def cross_entropy(z: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample losses (Q16) and d(mean loss)/dz (Q24) for logits z (Q16) and labels y."""
    m = z.max(dim=1, keepdim=True).values
    e = exp_neg_q30(m - z)                      # Q30, the max class gives exactly 2^30
    s = e.sum(dim=1)
    z_y = z.gather(1, y[:, None])[:, 0]
    losses = rshift(ln_q30(s), 14) + (m[:, 0] - z_y)
    p = torch.div(e << G_FRAC, s[:, None], rounding_mode="floor")
    onehot = torch.zeros_like(p).scatter_(1, y[:, None], 1 << G_FRAC)
    b = z.shape[0]
    grad = torch.div(2 * (p - onehot) + b, 2 * b, rounding_mode="floor")
    return losses, grad


# ---- layers: forward returns (output, cache); backward returns grad_input, {param: grad} ----

def _cols(x: torch.Tensor, k: int, stride: int, pad: int) -> tuple[torch.Tensor, tuple[int, ...]]:
    if pad:
        x = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    b, c = x.shape[:2]
    u = x.unfold(2, k, stride).unfold(3, k, stride)           # B, C, Ho, Wo, k, k
    ho, wo = u.shape[2], u.shape[3]
    cols = u.permute(0, 2, 3, 1, 4, 5).reshape(b * ho * wo, c * k * k)
    return cols, (b, c, ho, wo, x.shape[2], x.shape[3])


def conv_forward(x, w, bias, stride, pad):
    """Conv2d by im2col and an exact product; output Q16."""
    o, c, k, _ = w.shape
    cols, geo = _cols(x, k, stride, pad)
    acc = mm_exact(cols, w.reshape(o, -1).t()) + (bias << A_FRAC)
    b, _, ho, wo = geo[:4]
    out = clamp(rshift(acc, W_FRAC), ACT_MAX).reshape(b, ho, wo, o).permute(0, 3, 1, 2).contiguous()
    return out, (cols, geo, x.shape)


def conv_backward(g, w, cache, stride, pad, need_input: bool):
    """Gradients of Conv2d: (grad_input Q24 or None, grad_weight Q24, grad_bias Q24)."""
    cols, (b, c, ho, wo, hp, wp), in_shape = cache
    o, _, k, _ = w.shape
    gm = g.permute(0, 2, 3, 1).reshape(b * ho * wo, o)
    gw = clamp(rshift(mm_exact(gm.t(), cols), A_FRAC), G_MAX).reshape(w.shape)
    gb = clamp(gm.sum(0), G_MAX)
    if not need_input:
        return None, gw, gb
    dcols = rshift(mm_exact(gm, w.reshape(o, -1)), W_FRAC).reshape(b, ho, wo, c, k, k)
    dx = torch.zeros(b, c, hp, wp, dtype=I64, device=g.device)
    for i in range(k):
        for j in range(k):
            dx[:, :, i:i + stride * ho:stride, j:j + stride * wo:stride] += dcols[:, :, :, :, i, j].permute(0, 3, 1, 2)
    dx = dx[:, :, pad:hp - pad, pad:wp - pad] if pad else dx
    return clamp(dx.contiguous(), G_MAX), gw, gb


def linear_forward(x, w, bias):
    """Linear layer x @ w.T + b; output Q16."""
    return clamp(rshift(mm_exact(x, w.t()) + (bias << A_FRAC), W_FRAC), ACT_MAX), x


def linear_backward(g, w, x, need_input: bool):
    """Gradients of Linear: (grad_input or None, grad_weight, grad_bias), all Q24."""
    gw = clamp(rshift(mm_exact(g.t(), x), A_FRAC), G_MAX)
    gb = clamp(g.sum(0), G_MAX)
    gx = clamp(rshift(mm_exact(g, w), W_FRAC), G_MAX) if need_input else None
    return gx, gw, gb


def maxpool_forward(x, k):
    """Non-overlapping max pooling; ties go to the first element of a window (row-major)."""
    b, c, h, w = x.shape
    ho, wo = h // k, w // k
    win = x[:, :, :ho * k, :wo * k].reshape(b, c, ho, k, wo, k).permute(0, 1, 2, 4, 3, 5).reshape(b, c, ho, wo, k * k)
    top = win.max(dim=-1).values
    eq = win == top[..., None]
    first = eq & (eq.to(I64).cumsum(-1) == 1)
    return top, (first, x.shape)


def maxpool_backward(g, k, cache):
    """Route each window's gradient to the element chosen in the forward pass."""
    first, (b, c, h, w) = cache
    ho, wo = g.shape[2], g.shape[3]
    routed = (first.to(I64) * g[..., None]).reshape(b, c, ho, wo, k, k).permute(0, 1, 2, 4, 3, 5)
    dx = torch.zeros(b, c, h, w, dtype=I64, device=g.device)
    dx[:, :, :ho * k, :wo * k] = routed.reshape(b, c, ho * k, wo * k)
    return dx
