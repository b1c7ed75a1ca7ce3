"""The optimiser step over the flat parameter, gradient and buffer arrays, exactly.

Parameters, gradients and buffers are float64 arrays holding integers (or, for a weight gradient
just out of its product, multiples of 2^-16). One function per optimiser, written once with
in-place operators and the few calls of an ``Ops`` backend: numpy on the CPU (in blocks that
stay in the cache), torch on a GPU (one block). Both are exact, so both give the same bits.

Each step takes the float64 path when the bounds of this step (tracked from the gradients'
bound, never read back from the data) keep every product below 2^53, and otherwise the same
formula in int64 (every product below 2^63: docs/pot.md, "Bounds"). Both paths give the same
integers, so the choice never changes a result.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal, localcontext

import numpy as np
import torch

from zkpot.pot import fixedpoint as fp
from zkpot.pot import kernels

ONE = 1 << 24             # 1.0 in Q24, the scale of lr, momentum and the betas
F53 = 2**53
_np_clip = getattr(getattr(np, "_core", None), "umath", None)
_np_clip = getattr(_np_clip, "clip", None) or np.clip       # the ufunc itself: no wrapper overhead


class NumpyOps:
    """In-place numpy operations; the step runs in blocks that stay in the CPU's cache."""

    block = 1 << 15
    int64, float64 = np.int64, np.float64

    @staticmethod
    def empty(n: int, dtype):
        return np.empty(n, dtype=dtype)

    @staticmethod
    def cast(src, out) -> None:
        np.copyto(out, src, casting="unsafe")       # integer values: exact either way

    @staticmethod
    def clip(a, lo: int, hi: int) -> None:
        _np_clip(a, lo, hi, out=a)

    @staticmethod
    def floor(a) -> None:
        np.floor(a, out=a)

    @staticmethod
    def floor_to(src, out) -> None:
        np.floor(src, out=out)

    @staticmethod
    def sqrt(a) -> None:
        np.sqrt(a, out=a)

    @staticmethod
    def mul(a, b, out) -> None:
        np.multiply(a, b, out=out)

    @staticmethod
    def greater(a, b, out) -> None:
        np.greater(a, b, out=out)

    @staticmethod
    def absmax(a) -> int:
        return int(max(-a.min(), a.max())) if a.size else 0


class TorchOps:
    """The same operations on torch tensors (any device), in one block."""

    block = 1 << 62
    int64, float64 = torch.int64, torch.float64

    def __init__(self, device) -> None:
        self.device = device

    def empty(self, n: int, dtype):
        return torch.empty(n, dtype=dtype, device=self.device)

    @staticmethod
    def cast(src, out) -> None:
        out.copy_(src)

    @staticmethod
    def clip(a, lo: int, hi: int) -> None:
        a.clamp_(lo, hi)

    @staticmethod
    def floor(a) -> None:
        a.floor_()

    @staticmethod
    def floor_to(src, out) -> None:
        torch.floor(src, out=out)

    @staticmethod
    def sqrt(a) -> None:
        a.sqrt_()

    @staticmethod
    def mul(a, b, out) -> None:
        torch.mul(a, b, out=out)

    @staticmethod
    def greater(a, b, out) -> None:
        out.copy_(torch.gt(a, b))

    @staticmethod
    def absmax(a) -> int:
        return fp.absmax(a)


def adam_scalars(lr: float, b1: int, b2: int, eps: float, t: int) -> tuple[int, int]:
    """Bias-corrected step size alpha_t (Q24) and eps_t (Q24, at least 1) for step t >= 1, in
    50-digit decimals from the Q24 betas (b1, b2 < 2^24, so 1 - beta1^t > 0)."""
    with localcontext() as ctx:
        ctx.prec = 50
        one = Decimal(ONE)
        c2 = (1 - (Decimal(b2) / one) ** t).sqrt()
        c1 = 1 - (Decimal(b1) / one) ** t
        alpha = Decimal(repr(lr)) * c2 / c1 * one
        eps_t = Decimal(repr(eps)) * c2 * one
    return int(alpha + Decimal("0.5")), max(1, int(eps_t + Decimal("0.5")))


class Scratch:
    """Temporary arrays of one block, allocated once per stage."""

    def __init__(self, ops, n: int) -> None:
        n = max(1, min(n, ops.block))
        self.i1, self.i2 = ops.empty(n, ops.int64), ops.empty(n, ops.int64)
        self.f1, self.f2, self.g = ops.empty(n, ops.float64), ops.empty(n, ops.float64), ops.empty(n, ops.float64)


def block_count(n: int, block: int) -> int:
    """How many blocks the step cuts n elements into."""
    return -(-n // block)


def default_blocks(n: int, block: int) -> list[slice]:
    """The flat arrays cut into blocks of ``block`` elements."""
    return [slice(start, min(start + block, n)) for start in range(0, n, block)]


_pools: dict[int, ThreadPoolExecutor] = {}


def _for_blocks(ops, n: int, scratch, body) -> None:
    """body(k, slice, length, scratch) for every block k; with a list of scratches (one per
    thread) the blocks are shared out between threads (numpy releases the GIL). Each element
    depends on its own values only, so the split never changes a result."""
    scratches = scratch if isinstance(scratch, list) else [scratch]
    numbered = list(enumerate(default_blocks(n, ops.block)))
    workers = len(scratches)
    if workers == 1 or len(numbered) < 2 * workers:
        for k, sl in numbered:
            body(k, sl, sl.stop - sl.start, scratches[0])
        return
    pool = _pools.setdefault(workers, ThreadPoolExecutor(workers, thread_name_prefix="zkpot-step"))
    per = -(-len(numbered) // workers)

    def run(part, sc):
        for k, sl in part:
            body(k, sl, sl.stop - sl.start, sc)

    for future in [pool.submit(run, numbered[i * per:(i + 1) * per], scratches[i]) for i in range(workers)]:
        future.result()


def _gradient(ops, g, sl: slice, n: int, scratch: Scratch, saturate: bool):
    """The block's gradients rounded (weight gradients arrive as v * 2^-16 + 1/2, exact paths
    write integers, which floor leaves as they are) and saturated, in the scratch: the flat
    buffer is only read."""
    out = scratch.g[:n]
    ops.floor_to(g[sl], out)
    if saturate:
        ops.clip(out, -fp.G_MAX, fp.G_MAX)
    return out


def sgd_step(ops, w, g, buf, lr: float, momentum: float, gbound: int, bbound: int, scratch: Scratch,
             maxima: dict[int, int]) -> int:
    """torch.optim.SGD (dampening 0) in Q24: buf = round(mu*buf) + g; w -= round(lr*buf).

    ``gbound`` bounds |g| before saturation, ``bbound`` |buf|; returns the new buffer bound.
    ``maxima`` names blocks whose new max |w| to record (for the next products' exactness test).
    """
    lr_q, mu_q = round(lr * ONE), round(momentum * ONE)
    saturate, gb = gbound > fp.G_MAX, min(gbound, fp.G_MAX)
    # float64 is exact when mu_q * |buf| + 2^23 and lr_q * |new buf| + 2^27 stay within 2^53
    fast = (bbound + gb + 1) * max(mu_q, lr_q) + (1 << 27) <= F53
    if not fast and buf is not None:         # the tracked bound grows by gb a step: measure it again
        bbound = ops.absmax(buf)
        fast = (bbound + gb + 1) * max(mu_q, lr_q) + (1 << 27) <= F53
    host = ops is NumpyOps or isinstance(ops, NumpyOps)
    kernel = kernels.sgd() if host and (fast or buf is None) and _flat(w, g, buf) else None
    if kernel is not None:
        _sgd_kernel(kernel, w, g, buf, mu_q, lr_q, saturate, maxima, len(scratch) if isinstance(scratch, list) else 1)
        return min(fp.MOMENTUM_MAX, (bbound * mu_q + (1 << 23)) // ONE + gb) if buf is not None else 0

    def body(k, sl, n, scratch):
        wb, f = w[sl], scratch.f1[:n]
        gg = _gradient(ops, g, sl, n, scratch, saturate)
        if buf is not None and not fast:
            _sgd_int(ops, buf[sl], gg, mu_q, lr_q, f, scratch.i1[:n], scratch.i2[:n])
        else:
            if buf is not None:
                bb = buf[sl]
                bb *= mu_q * 2.0**-24                # mu_q * buf + 2^23 <= 2^53: exact
                bb += 0.5
                ops.floor(bb)
                bb += gg
                gg = bb
            ops.mul(gg, lr_q * 2.0**-28, f)          # lr_q * buf + 2^27 <= 2^53 (lr_q * g <= 2^51)
            f += 0.5
            ops.floor(f)
        wb -= f
        ops.clip(wb, -fp.W_MAX, fp.W_MAX)
        if k in maxima:
            maxima[k] = ops.absmax(wb)

    _for_blocks(ops, w.shape[0], scratch, body)
    # |round(mu * buf)| <= mu * bound + 1/2 and |g| <= gb; momentum <= 0.999 keeps it below 2^38
    return min(fp.MOMENTUM_MAX, (bbound * mu_q + (1 << 23)) // ONE + gb) if buf is not None else 0


def _flat(*arrays) -> bool:
    """Whether the kernel can take these arrays: contiguous float64 (None for an absent buffer)."""
    return all(a is None or (a.dtype == np.float64 and a.flags.c_contiguous) for a in arrays)


def _sgd_kernel(kernel, w, g, buf, mu_q: int, lr_q: int, saturate: bool, maxima: dict[int, int], workers: int):
    """``sgd_step``'s float64 path by the fused kernel (kernels.c: the same operations in one
    pass, so the same bits), over the whole range at once: one call, or one a thread (ctypes
    releases the GIL) for ranges of at least two blocks. ``maxima``, if it names blocks, gets the
    range's max |w| for each (its caller takes their maximum)."""
    if g.shape != w.shape or (buf is not None and buf.shape != w.shape):      # the C loop reads n of each
        raise ValueError(f"sgd kernel: parameters {w.shape}, gradients {g.shape} and buffer "
                         f"{None if buf is None else buf.shape} differ")
    pw, pg = w.ctypes.data, g.ctypes.data
    pb = buf.ctypes.data if buf is not None else None
    mu, lr = mu_q * 2.0**-24, lr_q * 2.0**-28
    gmax = float(fp.G_MAX) if saturate else math.inf
    want = bool(maxima)
    n = w.shape[0]

    def run(start: int, stop: int) -> float:
        at = start * 8
        return kernel(pw + at, pg + at, None if pb is None else pb + at, stop - start, mu, lr, gmax,
                      float(fp.W_MAX), want)

    if workers == 1 or n < 2 * NumpyOps.block:
        m = run(0, n)
    else:
        pool = _pools.setdefault(workers, ThreadPoolExecutor(workers, thread_name_prefix="zkpot-step"))
        cuts = [n * i // workers for i in range(workers + 1)]
        m = max(f.result() for f in [pool.submit(run, cuts[i], cuts[i + 1]) for i in range(workers)])
    for k in maxima:
        maxima[k] = int(m)


def _sgd_int(ops, bb, gg, mu_q: int, lr_q: int, step, i, j) -> None:
    """The momentum update in int64 (products up to 2^62): bb <- round(mu*bb) + g, step <- round(lr*bb)."""
    ops.cast(bb, i)
    i *= mu_q                                        # <= 2^24 * 2^38
    i += 1 << 23
    i >>= 24
    ops.cast(gg, j)
    i += j
    ops.cast(i, bb)
    i *= lr_q                                        # <= 2^24 * 2^38
    i += 1 << 27
    i >>= 28
    ops.cast(i, step)


def block_bounds(ops, v, n: int) -> list[int]:
    """max(v) of every block of the optimiser step (Adam's v bounds, tracked per block)."""
    return [ops.absmax(v[sl]) for sl in default_blocks(n, ops.block)]


def adam_scalars_for(opt, t: int) -> tuple:
    """Everything of step t that does not depend on the parameters: Q24 betas, alpha_t, eps_t."""
    b1, b2 = round(opt.betas[0] * ONE), round(opt.betas[1] * ONE)
    return (b1, b2, *adam_scalars(opt.lr, b1, b2, opt.eps, t))


def adam_step(ops, w, g, m, v, scalars: tuple, vbounds: list[int], scratch: Scratch,
              maxima: dict[int, int]) -> None:
    """Adam in fixed point: m = round(b1 m + (1-b1) g), v = round(b2 v + (1-b2) round(g^2)) (Q32),
    w -= round(alpha_t * clamp(floor(m / (isqrt(v) + eps_t)))), with ``scalars`` from
    ``adam_scalars_for``. ``vbounds`` (max v per block) is updated in place: v stays a convex
    combination of g^2 values, so max(v) <= max(g^2)."""
    b1, b2, alpha, eps_t = scalars
    small_alpha = alpha * fp.RATIO_MAX + (1 << 19) <= fp.EXACT
    def body(k, sl, n, scratch):
        wb, mb, vb = w[sl], m[sl], v[sl]
        f1, f2, i, j = scratch.f1[:n], scratch.f2[:n], scratch.i1[:n], scratch.i2[:n]
        gg = _gradient(ops, g, sl, n, scratch, True)
        gb = ops.absmax(gg)
        g2b = (gb * gb + (1 << 15)) >> 16
        fast_v = gb <= 2**26 and g2b * (ONE - b2) + vbounds[k] * b2 + ONE <= F53
        vbounds[k] = max(vbounds[k], g2b)
        mb *= b1                                     # b1 m + (1 - b1) g <= 2^51: exact
        ops.mul(gg, ONE - b1, f1)
        mb += f1
        mb *= 2.0**-24
        mb += 0.5
        ops.floor(mb)
        if fast_v:
            ops.mul(gg, gg, f1)                      # g^2 <= 2^52 (+ 2^15: g^2 * 2^-16 + 1/2 exact)
            f1 *= 2.0**-16
            f1 += 0.5
            ops.floor(f1)
            f1 *= ONE - b2
            vb *= b2
            vb += f1
            vb *= 2.0**-24
            vb += 0.5
            ops.floor(vb)
        else:
            ops.cast(gg, i)
            i *= i                                   # g^2 <= 2^54, Q48 -> Q32
            i += 1 << 15
            i >>= 16
            i *= ONE - b2
            ops.cast(vb, j)
            j *= b2                                  # <= 2^24 * 2^38
            j += i
            j += 1 << 23
            j >>= 24
            ops.cast(j, vb)
        ops.mul(vb, 2.0**16, f1)                     # sqrt(v) in Q24 = isqrt(v * 2^16); exact input
        ops.sqrt(f1)
        ops.floor(f1)
        if vbounds[k] >= 1 << 36:                    # a float root of v * 2^16 >= 2^52 may be 1 high
            _isqrt_fix(ops, vb, f1, i, j)
        f1 += eps_t
        ops.mul(mb, 2.0**16, f2)                     # m * 2^16 <= 2^43: the floored quotient is exact
        f2 /= f1
        ops.floor(f2)
        ops.clip(f2, -fp.RATIO_MAX, fp.RATIO_MAX)
        if small_alpha:                              # alpha * ratio + 2^19 <= 2^53
            f2 *= alpha * 2.0**-20
            f2 += 0.5
            ops.floor(f2)
            wb -= f2
        else:
            ops.cast(f2, i)
            i *= alpha                               # alpha < 2^34, ratio <= 2^22
            i += 1 << 19
            i >>= 20
            wb -= i
        ops.clip(wb, -fp.W_MAX, fp.W_MAX)
        if k in maxima:
            maxima[k] = ops.absmax(wb)

    _for_blocks(ops, w.shape[0], scratch, body)


def _isqrt_fix(ops, v, root, r, n) -> None:
    """root <- root - 1 where root^2 > v * 2^16 (a float square root of n >= 2^52 may round up)."""
    ops.cast(root, r)
    ops.cast(v, n)
    n <<= 16
    ops.mul(r, r, r)                                 # root^2 <= 2^54 + 2^28
    ops.greater(r, n, n)                             # n <- 1 where too high, else 0
    root -= n
