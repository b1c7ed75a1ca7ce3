"""Forward and backward passes of the allowed layers on float64 tensors that hold integers.

Every function computes exactly what docs/pot.md defines with integers: a rescale by 2^s rounding
half up is ``floor(v * 2^-s + 1/2)``, folded into the product where one precedes it
(``addmm(1/2, a, b, alpha=2^-s)``: every partial sum is a multiple of 2^-s whose numerator is at
most 2^53, so the scaling, the offset and the summation are exact in any order). Products that do not fit 2^53
(``fixedpoint.fits``) go through ``fixedpoint.mm_exact`` and int64 instead. Weight gradients
are written into the flat gradient buffer as v * 2^-16 + 1/2 (so their floor is the rounded
value; the exact paths write integers); the optimiser step floors and saturates them.
"""

from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn.functional as F

from zkpot.pot import fixedpoint as fp
from zkpot.pot.fixedpoint import ACT_MAX, F64, G_MAX, I64, fits, rshift

BIAS_EXTRA = 2**41        # |bias * 2^16 + 2^19| for a Q20 bias within the weight bound


class Workspace:
    """Tensors reused from batch to batch by name: the batches of a stage have the same shapes,
    and on the CPU every fresh large tensor costs its page faults again."""

    def __init__(self, device) -> None:
        self.device = device
        self._tensors: dict[tuple, torch.Tensor] = {}

    def get(self, key: tuple, shape, dtype=F64, zero: bool = False, fill_last: float | None = None) -> torch.Tensor:
        """The tensor named ``key`` with this shape (new, and zeroed if ``zero`` or its last row
        set to ``fill_last``, on first use)."""
        t = self._tensors.get(key)
        if t is None or t.shape != tuple(shape) or t.dtype != dtype:
            make = torch.zeros if zero else torch.empty
            t = self._tensors[key] = make(tuple(shape), dtype=dtype, device=self.device)
            if fill_last is not None:
                t[-1] = fill_last
        return t


def _im2col(x: torch.Tensor, k: int, stride: int, pad: int, ws: Workspace, key) -> torch.Tensor:
    """im2col (B, C*k*k + 1, Ho*Wo): columns ordered (channel, ky, kx), then a row of ones (the
    bias term's), one strided copy of the (padded) input into a reused tensor."""
    b, c, h, w = x.shape
    ho, wo = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    if pad:
        padded = ws.get(key + ("padded",), (b, c, h + 2 * pad, w + 2 * pad), zero=True)   # border stays 0
        padded[:, :, pad:pad + h, pad:pad + w] = x
        x = padded
    sb, sc, sh, sw = x.stride()
    windows = x.as_strided((b, c, k, k, ho, wo), (sb, sc, sh, sw, sh * stride, sw * stride))
    cols = ws.get(key + ("cols",), (b, c * k * k + 1, ho * wo))
    cols[:, :-1].view(b, c, k, k, ho, wo).copy_(windows)
    cols[:, -1] = 1.0
    return cols


@lru_cache(maxsize=32)
def _col2im_index(k: int, stride: int, ho: int, wo: int, wp: int, device: str) -> torch.Tensor:
    """For each column entry (ky, kx, y, x): its flat position in the padded input plane."""
    i, j, y, x = torch.meshgrid(*(torch.arange(n, device=device) for n in (k, k, ho, wo)), indexing="ij")
    return ((y * stride + i) * wp + (x * stride + j)).reshape(-1)


@lru_cache(maxsize=8)
def half(device: str) -> torch.Tensor:
    """The scalar 1/2 (float64) on a device: the rounding offset of a fused rescale."""
    return torch.tensor(0.5, dtype=F64, device=device)


def augmented(ws: Workspace, key, rows: int, cols: int, fill: float) -> torch.Tensor:
    """A reused (rows + 1, cols) tensor whose last row is ``fill``: a product's operand with the
    row that folds a constant into it (see ``weight_grad``), its first ``rows`` rows to write
    (nothing writes the last row: it is filled when the tensor is made)."""
    return ws.get(key, (rows + 1, cols), fill_last=fill)


def affine(x: torch.Tensor, w_t: torch.Tensor, bias: torch.Tensor, xmax: int, wmax: int, relu: bool,
           out: torch.Tensor | None = None) -> torch.Tensor:
    """clamp(rshift(x @ w_t + bias * 2^16, 20)) to [-2^26, 2^26] (to [0, 2^26] when a ReLU follows),
    written into ``out`` when it is given (contiguous, x.shape[0] x w_t.shape[1])."""
    if fits(x.shape[1], xmax, wmax, BIAS_EXTRA):
        y = torch.addmm(torch.mul(bias, 2.0**-4).add_(0.5), x, w_t, alpha=2.0**-20,
                        **({} if out is None else {"out": out})).floor_()
    else:
        y = rshift(fp.mm_exact(x, w_t, xmax, wmax) + (bias.to(I64) << fp.A_FRAC), fp.W_FRAC).to(F64)
        y = y if out is None else out.copy_(y)
    return y.clamp_(0 if relu else -ACT_MAX, ACT_MAX)


def weight_grad(g_t: torch.Tensor, x: torch.Tensor, gmax: int, xmax: int, out: torch.Tensor, ws: Workspace,
                key, g_aug: torch.Tensor | None = None, x_aug: torch.Tensor | None = None) -> None:
    """out <- (g_t @ x) * 2^-16 + 1/2 (Q24 x Q16 -> Q24, exact), as [g; 2^15]^T @ [x; 1] * 2^-16
    (g = g_t transposed: n + 1 rows each); the optimiser step floors it (an integer, as the exact
    path writes, stays as it is) and saturates it. ``g_aug`` and ``x_aug``, where the caller
    already holds its operand that way, spare the copies (the same values)."""
    if fits(g_t.shape[1], gmax, xmax, 2**15):
        n = g_t.shape[1]
        if g_aug is None:
            g_aug = augmented(ws, key + ("g_aug",), n, g_t.shape[0], 2.0**15)
            g_aug[:n] = g_t.t()
        if x_aug is None:
            x_aug = augmented(ws, key + ("x_aug",), n, x.shape[1], 1.0)
            x_aug[:n] = x
        torch.addmm(out, g_aug.t(), x_aug, beta=0, alpha=2.0**-16, out=out)
    else:
        out.copy_(rshift(fp.mm_exact(g_t, x, gmax, xmax), fp.A_FRAC).clamp_(-G_MAX, G_MAX))


def input_grad(g: torch.Tensor, w: torch.Tensor, gmax: int, wmax: int, out: torch.Tensor | None = None) -> torch.Tensor:
    """rshift(g @ w, 20): the gradient of a product's input (Q24 x Q20 -> Q24), not clamped;
    written into ``out`` when it is given."""
    if fits(g.shape[1], gmax, wmax, 2**19):
        return torch.addmm(half(str(g.device)), g, w, alpha=2.0**-20, **({} if out is None else {"out": out})).floor_()
    y = rshift(fp.mm_exact(g, w, gmax, wmax), fp.W_FRAC).to(F64)
    return y if out is None else out.copy_(y)


def linear_backward(g, x, w, gmax, xmax, wmax, gw, gb, need_input: bool, ws: Workspace, key,
                    g_aug=None, x_aug=None, out=None):
    """Gradients of Linear into gw, gb; returns the input gradient clamped to +-2^27 (into
    ``out`` when given), or None. ``g_aug``, ``x_aug``: see ``weight_grad``."""
    weight_grad(g.t(), x, gmax, xmax, gw, ws, key, g_aug, x_aug)
    torch.sum(g, 0, out=gb)
    return input_grad(g, w, gmax, wmax, out).clamp_(-G_MAX, G_MAX) if need_input else None


def conv_forward(x, w, bias, stride: int, pad: int, xmax: int, wmax: int, relu: bool, ws: Workspace, key):
    """Conv2d as im2col and one batched product [W, b*2^16 + 2^19] * 2^-20 @ [cols; 1] (the
    rescale, bias and rounding offset folded in), floored; returns (output NCHW, columns)."""
    b, o = x.shape[0], w.shape[0]
    k = w.shape[2]
    ho = (x.shape[2] + 2 * pad - k) // stride + 1
    wo = (x.shape[3] + 2 * pad - k) // stride + 1
    ckk = w[0].numel()
    cols = _im2col(x, k, stride, pad, ws, key)                          # B, C*k*k + 1, Ho*Wo
    w2 = w.reshape(o, -1)
    if fits(ckk, xmax, wmax, BIAS_EXTRA):
        waug = ws.get(key + ("waug",), (o, ckk + 1))
        torch.mul(w2, 2.0**-20, out=waug[:, :-1])
        torch.mul(bias, 2.0**-4, out=waug[:, -1]).add_(0.5)
        y = torch.bmm(waug.expand(b, -1, -1), cols, out=ws.get(key + ("y",), (b, o, ho * wo))).floor_()
    else:
        rows = cols[:, :-1].transpose(1, 2).reshape(-1, ckk)
        acc = fp.mm_exact(rows, w2.t(), xmax, wmax) + (bias.to(I64) << fp.A_FRAC)
        y = rshift(acc, fp.W_FRAC).to(F64).view(b, -1, o).transpose(1, 2)
    y = y.reshape(b, o, ho, wo).clamp_(0 if relu else -ACT_MAX, ACT_MAX)
    return y, cols


def conv_backward(g, w, cols, in_shape, stride: int, pad: int, xmax: int, wmax, gw, gb, need_input: bool,
                  ws: Workspace, key):
    """Gradients of Conv2d into gw, gb; returns the input gradient (col2im of the rescaled
    column gradients, clamped) or None. ``wmax(gmax)`` bounds |w|, asked only for the input
    gradient. ``cols`` is the forward's im2col (with its row of ones)."""
    b, o, ho, wo = g.shape
    c, k = w.shape[1], w.shape[2]
    ckk = c * k * k
    g3 = g.reshape(b, o, ho * wo)
    gmax = fp.absmax(g3)
    if fits(b * ho * wo, gmax, max(xmax, 1), 2**15):                  # the ones row counts too
        # per sample [cols; 1] @ g^T: the weight gradients and, in the last row, the bias's
        per_sample = torch.bmm(cols, g3.transpose(1, 2), out=ws.get(key + ("gw",), (b, ckk + 1, o)))
        total = torch.sum(per_sample, 0, out=ws.get(key + ("gwsum",), (ckk + 1, o)))
        torch.mul(total[:-1].t(), 2.0**-16, out=gw.view(o, ckk)).add_(0.5)   # floored by the optimiser step
        gb.copy_(total[-1])                                             # |sum| <= 2^53: exact
    else:
        rows = cols[:, :-1].transpose(1, 2).reshape(-1, ckk)
        weight_grad(g3.transpose(1, 2).reshape(-1, o).t(), rows, gmax, xmax, gw.view(o, -1), ws, key)
        if fits(b * ho * wo, gmax, 1):                                  # <= 2^53: exact in float64
            torch.sum(g3, (0, 2), out=gb)
        else:                                                           # up to 2^32 terms: int64
            gb.copy_(g3.to(I64).sum((0, 2)).clamp_(-G_MAX, G_MAX))
    if not need_input:
        return None
    bound = wmax(gmax)
    if fits(o + 1, gmax, bound, 2**19):
        # [W^T * 2^-20, 1/2] @ [g; 1]: the rescale and its rounding offset folded in
        gaug = ws.get(key + ("gaug",), (b, o + 1, ho * wo))
        gaug[:, :-1] = g3
        gaug[:, -1] = 1.0
        waug = ws.get(key + ("wtaug",), (ckk, o + 1))
        torch.mul(w.reshape(o, -1).t(), 2.0**-20, out=waug[:, :-1])
        waug[:, -1] = 0.5
        d = torch.bmm(waug.expand(b, -1, -1), gaug, out=ws.get(key + ("dcols",), (b, ckk, ho * wo))).floor_()
    else:
        rows = fp.mm_exact(g3.transpose(1, 2).reshape(-1, o), w.reshape(o, -1), gmax, bound)
        d = rshift(rows, fp.W_FRAC).to(F64).view(b, ho * wo, -1).transpose(1, 2)
    # col2im: each padded input position sums the (at most ceil(k/stride)^2) columns that read it
    hp, wp = in_shape[2] + 2 * pad, in_shape[3] + 2 * pad
    dx = ws.get(key + ("dx",), (b * c, hp * wp)).zero_()
    dx.index_add_(1, _col2im_index(k, stride, ho, wo, wp, str(g.device)), d.reshape(b * c, -1))
    dx = dx.view(b, c, hp, wp)
    dx = dx[:, :, pad:hp - pad, pad:wp - pad] if pad else dx
    return dx.clamp_(-G_MAX, G_MAX)


@lru_cache(maxsize=32)
def _window_rank(h: int, w: int, k: int, device: str) -> torch.Tensor:
    """k*k - 1 - (position in its pooling window, row-major): larger for earlier elements."""
    r = torch.arange(h, device=device) % k
    c = torch.arange(w, device=device) % k
    return (k * k - 1 - (r[:, None] * k + c[None, :])).to(F64)


def maxpool_forward(x: torch.Tensor, k: int, ws: Workspace, key) -> tuple[torch.Tensor, torch.Tensor]:
    """Non-overlapping max pooling (floor mode); a tie goes to the first element of its window
    in row-major order. Each value v becomes the key v * 128 + rank (rank = k*k - 1 - position,
    k*k <= 121), so the keys of a window are distinct: the pooled key is unique whichever
    maximum a kernel would pick among equals, and gives both v and its position. Returns the
    pooled values and the flat index (within the H x W plane) of each chosen element."""
    keys = torch.add(_window_rank(x.shape[2], x.shape[3], k, str(x.device)), x, alpha=128.0,
                     out=ws.get(key + ("keys",), x.shape))                                # |key| < 2^34
    shape = (x.shape[0], x.shape[1], x.shape[2] // k, x.shape[3] // k)
    top, idx = ws.get(key + ("top",), shape), ws.get(key + ("idx",), shape, I64)
    try:
        torch._C._nn.max_pool2d_with_indices(keys, [k, k], [k, k], [0, 0], [1, 1], False, out=(top, idx))
    except (AttributeError, TypeError, RuntimeError):      # no out= variant: allocate
        top, idx = F.max_pool2d(keys, k, return_indices=True)
    return top.mul_(1.0 / 128).floor_(), idx


def maxpool_backward(g: torch.Tensor, idx: torch.Tensor, in_shape, ws: Workspace, key) -> torch.Tensor:
    """Route each window's gradient to the element chosen in the forward pass (unique indices)."""
    b, c, h, w = in_shape
    dx = ws.get(key + ("dx",), (b, c, h * w)).zero_()
    return dx.scatter_(2, idx.reshape(b, c, -1), g.reshape(b, c, -1)).view(b, c, h, w)


def dropout_scale(keep, p: float, device) -> torch.Tensor:
    """keep * round(2^16 / (1 - p)) * 2^-16 as float64 (exact: a dyadic number per element)."""
    scale = round(65536 / (1 - p)) * 2.0**-16
    return torch.from_numpy(keep * scale).to(device)


def scale_q16(x: torch.Tensor, c: torch.Tensor, bound: int) -> torch.Tensor:
    """clamp(rshift(x * c * 2^16, 16), +-bound) for a dropout scale c (|x * c * 2^16| < 2^47:
    exact). Saturating keeps a dropout's output an activation (2^26) and its gradient a
    gradient (2^27), like every other layer's, whatever the number of dropouts in a row."""
    return torch.addcmul(half(str(x.device)), x, c).floor_().clamp_(-bound, bound)
