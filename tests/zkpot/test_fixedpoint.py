"""Exact fixed-point arithmetic: every fast path equals its exact int64 (or Python int) definition,
products beyond 2^53 and beyond int64 stay exact (or saturate with the right sign), both optimiser
backends and both of each step's paths give the same bits, and pooling ties go to the first element."""

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from zkpot.pot import fixedpoint as fp
from zkpot.pot import layers as L
from zkpot.pot import optim

GEN = torch.Generator().manual_seed(0)


def ints(lo, hi, shape):
    return torch.randint(lo, hi, shape, generator=GEN, dtype=torch.int64)


def exact_product(a, b):
    return [[sum(int(x) * int(y) for x, y in zip(a[i].tolist(), b[:, j].tolist())) for j in range(b.shape[1])]
            for i in range(a.shape[0])]


def finish(t):
    """What the optimiser step does to a gradient first: floor (the products add 1/2), saturate."""
    t.floor_().clamp_(-fp.G_MAX, fp.G_MAX)


def saturate(v):
    return max(-fp.SATURATE, min(fp.SATURATE, v))


@pytest.mark.parametrize("amax,bmax,k", [(2**26, 2**24, 3000), (2**27, 2**26, 200), (2**27, 2**27 - 1, 4096),
                                         (2**13, 2**27, 5000), (3, 2**27, 70000), (2**30 - 1, 2**29, 300)])
def test_mm_exact_equals_python_integers(amax, bmax, k):
    a, b = ints(-amax, amax + 1, (3, k)), ints(-bmax, bmax + 1, (k, 2))
    got = fp.mm_exact(a, b).tolist()
    assert got == [[saturate(v) for v in row] for row in exact_product(a, b)]
    assert fp.mm_exact(a.double(), b.double(), amax, bmax).tolist() == got      # float operands, given bounds


def test_mm_exact_saturates_beyond_2_60_with_the_right_sign_instead_of_wrapping():
    # 4096 terms at the documented bounds: 2^65 in total, which int64 block sums would wrap to 0
    a = torch.full((2, 4096), fp.G_MAX, dtype=torch.int64)
    a[1] = -fp.G_MAX
    b = torch.full((4096, 1), fp.ACT_MAX, dtype=torch.int64)
    assert fp.mm_exact(a, b).tolist() == [[fp.SATURATE], [-fp.SATURATE]]
    # just below the saturation point the result is exact; just above it is clamped
    big = 2**27 - 1
    a = torch.zeros(4, 66, dtype=torch.int64)
    a[0, :64], a[1, :65], a[2, :64], a[3, :65] = big, big, -big, -big
    a[:, 65] = torch.tensor([7, 7, -7, -7])
    b = torch.full((66, 1), big, dtype=torch.int64)
    exact = [row[0] for row in exact_product(a, b)]
    assert abs(exact[0]) < fp.SATURATE < abs(exact[1])
    assert fp.mm_exact(a, b)[:, 0].tolist() == [exact[0], fp.SATURATE, exact[2], -fp.SATURATE]


def test_mm_exact_refuses_operands_it_cannot_bound():
    with pytest.raises(OverflowError):
        fp.mm_exact(torch.tensor([[2**30]]), torch.tensor([[1]]))


def _reference_affine(x, w, bias, relu):
    acc = np.array(exact_product(x, w.t()), dtype=object) + (bias.long() * 2**16).numpy()[None, :].astype(object)
    out = np.vectorize(lambda v: (v + 2**19) >> 20)(acc)
    return np.clip(out.astype(np.int64), 0 if relu else -fp.ACT_MAX, fp.ACT_MAX)


@pytest.mark.parametrize("relu", [False, True])
def test_affine_fast_and_exact_paths_equal_the_integer_definition(relu):
    x, w, bias = ints(-2**20, 2**20, (4, 700)).double(), ints(-2**24, 2**24, (5, 700)).double(), \
        ints(-2**24, 2**24, (5,)).double()
    want = _reference_affine(x.long(), w.long(), bias, relu)
    fast = L.affine(x, w.t(), bias, 2**20, 2**24, relu)                   # 700 * 2^44: does not fit 2^53
    assert not fp.fits(700, 2**20, 2**24, L.BIAS_EXTRA)
    assert fast.long().numpy().tolist() == want.tolist()
    small = x * 2.0**-10                                                     # fits: the fused product
    small = small.floor()
    assert fp.fits(700, 2**10, 2**24, L.BIAS_EXTRA)
    want = _reference_affine(small.long(), w.long(), bias, relu)
    assert L.affine(small, w.t(), bias, 2**10, 2**24, relu).long().numpy().tolist() == want.tolist()
    # an inflated bound (the exact path) gives the same integers as the fused product
    exact_path = L.affine(small, w.t(), bias, 2**27, 2**27, relu)
    assert torch.equal(exact_path, L.affine(small, w.t(), bias, 2**10, 2**24, relu))


def test_gradient_products_equal_on_both_paths():
    g, x, w = ints(-2**20, 2**20, (16, 30)).double(), ints(-2**16, 2**16, (16, 40)).double(), \
        ints(-2**20, 2**20, (30, 40)).double()
    fast, slow = torch.empty(30, 40, dtype=torch.float64), torch.empty(30, 40, dtype=torch.float64)
    ws = L.Workspace("cpu")
    L.weight_grad(g.t(), x, 2**20, 2**16, fast, ws, ("f",))
    L.weight_grad(g.t(), x, 2**27, 2**27, slow, ws, ("s",))                  # forced through mm_exact
    finish(fast)
    finish(slow)
    exact = np.array(exact_product(g.t().long(), x.long()), dtype=object)
    want = np.clip(np.vectorize(lambda v: (v + 2**15) >> 16)(exact).astype(np.int64), -fp.G_MAX, fp.G_MAX)
    assert fast.long().numpy().tolist() == slow.long().numpy().tolist() == want.tolist()
    assert torch.equal(L.input_grad(g, w, 2**20, 2**20), L.input_grad(g, w, 2**27, 2**27))


@pytest.mark.parametrize("stride,pad", [(1, 0), (2, 1), (3, 2)])
def test_conv_paths_agree_and_match_unfold_and_col2im(stride, pad):
    x = ints(0, 2**16, (3, 2, 9, 9)).double()
    w, bias = ints(-2**18, 2**18, (4, 2, 3, 3)).double(), ints(-2**20, 2**20, (4,)).double()
    ws = L.Workspace("cpu")
    y, cols = L.conv_forward(x, w, bias, stride, pad, 2**16, 2**18, False, ws, ("a",))
    y_slow, _ = L.conv_forward(x, w, bias, stride, pad, 2**27, 2**27, False, ws, ("b",))
    assert torch.equal(y, y_slow)
    ref = torch.nn.functional.conv2d(x, w, bias * 2**16, stride=stride, padding=pad)        # exact here
    assert torch.equal(y, torch.floor((ref + 2**19) / 2**20).clamp(-fp.ACT_MAX, fp.ACT_MAX))
    g = ints(-2**20, 2**20, y.shape).double()
    out = {}
    for name, xmax, wmax in (("fast", 2**16, 2**18), ("slow", 2**27, 2**27)):
        gw, gb = torch.empty_like(w), torch.empty_like(bias)
        dx = L.conv_backward(g, w, cols, x.shape, stride, pad, xmax, lambda _g, m=wmax: m, gw, gb, True, ws, (name,))
        finish(gw)
        out[name] = (dx, gw, gb)
    assert all(torch.equal(a, b) for a, b in zip(out["fast"], out["slow"]))
    assert torch.equal(out["fast"][2], g.sum((0, 2, 3)))
    # the input gradient is col2im of the rescaled column gradients (each rounded, then summed)
    d = (g.permute(0, 2, 3, 1).reshape(-1, 4) @ w.reshape(4, -1))
    d = torch.floor((d + 2**19) / 2**20).reshape(3, -1, 18).transpose(1, 2)
    want = torch.nn.functional.fold(d, (9, 9), 3, padding=pad, stride=stride).clamp(-fp.G_MAX, fp.G_MAX)
    assert torch.equal(out["fast"][0], want)


def test_maxpool_ties_go_to_the_first_element_of_the_window():
    x = ints(0, 3, (4, 3, 9, 8)).double()                                    # many ties; 9 rows: floor mode
    ws = L.Workspace("cpu")
    top, idx = L.maxpool_forward(x, 2, ws, ("p",))
    win = x[:, :, :8, :8].reshape(4, 3, 4, 2, 4, 2).permute(0, 1, 2, 4, 3, 5).reshape(4, 3, 4, 4, 4)
    first = (win == win.max(-1, keepdim=True).values).long().argmax(-1)      # first True in row-major order
    assert torch.equal(top, win.max(-1).values)
    rows, cols = torch.meshgrid(torch.arange(4), torch.arange(4), indexing="ij")
    assert torch.equal(idx, (2 * rows + first // 2) * 8 + 2 * cols + first % 2)
    g = ints(-9, 9, top.shape).double()
    dx = L.maxpool_backward(g, idx, x.shape, ws, ("p",))
    assert dx.sum() == g.sum() and (dx != 0).sum() == (g != 0).sum()


def test_isqrt_is_exact_next_to_squares_above_2_52():
    k = np.array([2**26 + 1, 2**27 - 1, 3 * 2**25 + 7], dtype=np.int64)
    n = np.concatenate([k * k - 1, k * k, k * k + 1, [0, 1, 2**54, 2**54 - 1]])
    assert fp.isqrt(n).tolist() == [math.isqrt(int(v)) for v in n]
    assert fp.isqrt(torch.from_numpy(n)).tolist() == [math.isqrt(int(v)) for v in n]
    # the optimiser's root of v * 2^16: v = (k^2 - 1) / 2^16 is not an integer, so take v * 2^16 near k^2
    v = np.array([(int(x) ** 2 >> 16) for x in k], dtype=np.float64)
    root = np.floor(np.sqrt(v * 2.0**16))
    optim._isqrt_fix(optim.NumpyOps, v, root, np.empty(3, np.int64), np.empty(3, np.int64))
    assert root.astype(np.int64).tolist() == [math.isqrt(int(x) << 16) for x in v]


def _optimiser_case(seed, n=70_000):
    rng = np.random.default_rng(seed)
    w = rng.integers(-2**24, 2**24, n).astype(np.float64)
    g = rng.integers(-2**44, 2**44, n) * 2.0**-16 + 0.5                      # as the products write them
    buf = rng.integers(-2**38, 2**38, n).astype(np.float64)
    m = rng.integers(-2**27, 2**27, n).astype(np.float64)
    v = rng.integers(0, 2**38, n).astype(np.float64)
    return w, g, buf, m, v


@pytest.mark.parametrize("momentum", [0.0, 0.9, 0.999])
def test_sgd_step_backends_agree_with_the_integer_formula(momentum):
    w, g, buf, _, _ = _optimiser_case(1)
    lr_q, mu_q = round(0.7 * 2**24), round(momentum * 2**24)
    gi = np.clip(np.floor(g).astype(np.int64), -fp.G_MAX, fp.G_MAX)
    nb = ((mu_q * buf.astype(np.int64) + 2**23) >> 24) + gi if momentum else gi
    want = np.clip(w.astype(np.int64) - ((lr_q * nb + 2**27) >> 28), -fp.W_MAX, fp.W_MAX)
    for ops in (optim.NumpyOps, optim.TorchOps("cpu")):
        ww, gg, bb = w.copy(), g.copy(), (buf.copy() if momentum else None)
        if isinstance(ops, optim.TorchOps):
            ww, gg, bb = torch.from_numpy(ww), torch.from_numpy(gg), (torch.from_numpy(bb) if momentum else None)
        optim.sgd_step(ops, ww, gg, bb, 0.7, momentum, 2**30, 2**38, optim.Scratch(ops, len(w)), {})
        assert np.array_equal(np.asarray(ww), want)
        assert bb is None or np.array_equal(np.asarray(bb), nb)


def test_sgd_float_and_int64_paths_give_the_same_integers():
    w, g, buf, _, _ = _optimiser_case(2)
    buf = np.clip(buf, -2**24, 2**24)                                       # small enough for the float path
    outs = []
    for bbound in (2**24, 2**38):                                           # float64 path, then int64 path
        ww, gg, bb = w.copy(), g.copy(), buf.copy()
        optim.sgd_step(optim.NumpyOps, ww, gg, bb, 0.3, 0.9, 2**30, bbound, optim.Scratch(optim.NumpyOps, len(w)), {})
        outs.append((ww, bb))
    assert np.array_equal(outs[0][0], outs[1][0]) and np.array_equal(outs[0][1], outs[1][1])


def _adam_reference(w, g, m, v, lr, betas, eps, t):
    one = 2**24
    b1, b2 = round(betas[0] * one), round(betas[1] * one)
    alpha, eps_t = optim.adam_scalars(lr, b1, b2, eps, t)
    gi = np.clip(np.floor(g).astype(np.int64), -fp.G_MAX, fp.G_MAX)
    mi = (b1 * m.astype(np.int64) + (one - b1) * gi + 2**23) >> 24
    vi = (b2 * v.astype(np.int64) + (one - b2) * ((gi * gi + 2**15) >> 16) + 2**23) >> 24
    s = fp.isqrt(vi << 16)
    ratio = np.clip(np.floor_divide(mi << 16, s + eps_t), -fp.RATIO_MAX, fp.RATIO_MAX)
    return np.clip(w.astype(np.int64) - ((alpha * ratio + 2**19) >> 20), -fp.W_MAX, fp.W_MAX), mi, vi


@pytest.mark.parametrize("lr,betas,small_g", [(0.01, (0.9, 0.999), True), (1.0, (0.999, 0.99999), False),
                                              (0.5, (0.0, 0.0), False), (0.001, (0.5, 0.9), True)])
def test_adam_step_paths_and_backends_agree_with_the_integer_formula(lr, betas, small_g):
    w, g, _, m, v = _optimiser_case(3)
    if small_g:                                                              # the float path for v
        g, v = g * 2.0**-20, np.floor(v * 2.0**-12)
    for t in (1, 7):
        want = _adam_reference(w, g, m, v, lr, betas, 1e-8, t)
        for ops in (optim.NumpyOps, optim.TorchOps("cpu")):
            arrays = [a.copy() for a in (w, g, m, v)]
            if isinstance(ops, optim.TorchOps):
                arrays = [torch.from_numpy(a) for a in arrays]
            bounds = optim.block_bounds(ops, arrays[3], len(w))
            scalars = optim.adam_scalars_for(SimpleNamespace(lr=lr, betas=betas, eps=1e-8), t)
            optim.adam_step(ops, arrays[0], arrays[1], arrays[2], arrays[3], scalars, bounds,
                            optim.Scratch(ops, len(w)), {})
            got = [np.asarray(a) for a in (arrays[0], arrays[2], arrays[3])]
            assert all(np.array_equal(a, b) for a, b in zip(got, want)), (ops, t)


def test_cross_entropy_matches_its_definition():
    z = np.array([[0, 65536, -65536], [5 << 16, 5 << 16, 0], [-(2**26), 2**26, 0]], dtype=np.int64)
    y = np.array([1, 0, 2])
    losses, grad = fp.cross_entropy(z, y)
    for row, label, loss in zip(z, y, losses):
        soft = np.exp((row - row.max()) / 65536.0)
        assert abs(loss / 65536 - (math.log(soft.sum()) - (row[label] - row.max()) / 65536)) < 2e-4
    assert (grad.sum(axis=1) <= 0).all() and (np.abs(grad) <= 2**24 // 3 + 1).all()


def test_the_step_shared_out_between_threads_gives_the_same_bits():
    w, g, buf, m, v = _optimiser_case(4, n=300_000)
    outs = []
    for scratch in (optim.Scratch(optim.NumpyOps, len(w)), [optim.Scratch(optim.NumpyOps, len(w)) for _ in range(3)]):
        arrays = [a.copy() for a in (w, g, buf, m, v)]
        maxima = {0: 0, 5: 0}
        optim.sgd_step(optim.NumpyOps, arrays[0], arrays[1], arrays[2], 0.3, 0.9, 2**30, 2**38, scratch, maxima)
        arrays[1] = g.copy()
        bounds = optim.block_bounds(optim.NumpyOps, arrays[4], len(w))
        scalars = optim.adam_scalars_for(SimpleNamespace(lr=0.01, betas=(0.9, 0.999), eps=1e-8), 3)
        optim.adam_step(optim.NumpyOps, arrays[0], arrays[1], arrays[3], arrays[4], scalars, bounds, scratch, maxima)
        outs.append((arrays, maxima, bounds))
    assert all(np.array_equal(a, b) for a, b in zip(outs[0][0], outs[1][0]))
    assert outs[0][1] == outs[1][1] and outs[0][2] == outs[1][2]


@pytest.mark.parametrize("case", ["digits-cnn", "digits28-lenet", "cover-conv-stride-sgd", "cover-saturating-sgd"])
def test_every_exact_fallback_gives_the_golden_bits(monkeypatch, case):
    # with float64 products limited to 2^30 and float64 optimiser paths to 2^20, every product,
    # sum and step takes its exact fallback (mm_exact in small blocks and limbs, int64 sums,
    # int64 optimiser formulas): the outputs must not change by a bit
    from tests.zkpot.stage_golden import path_of, render

    monkeypatch.setattr(fp, "EXACT", 2**30)
    monkeypatch.setattr(optim, "F53", 2**20)
    assert render(case) == path_of(case).read_bytes()
