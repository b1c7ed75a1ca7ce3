"""The fused native kernels (zkpot/pot/kernels.c) give numpy's bits, and a machine without them
runs numpy's path with a warning."""

import logging

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zkpot.pot import fixedpoint as fp
from zkpot.pot import kernels, optim


def test_the_kernels_are_built_on_this_machine():
    # bootstrap installs a C compiler where there is none: CI and the demo run the fused step
    assert kernels.sgd() is not None, kernels.status()
    assert kernels.library_path().exists() and kernels.status().startswith("fused native kernel")


def _sgd(arrays, lr, momentum, gbound, bbound, workers, maxima):
    w, g, buf = (None if a is None else a.copy() for a in arrays)
    scratch = [optim.Scratch(optim.NumpyOps, len(w)) for _ in range(workers)]
    new_bound = optim.sgd_step(optim.NumpyOps, w, g, buf, lr, momentum, gbound, bbound,
                               scratch if workers > 1 else scratch[0], maxima)
    return w, buf, new_bound, max(maxima.values(), default=None)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 80_000), momentum=st.sampled_from([0.0, 0.5, 0.9, 0.999]),
       lr=st.sampled_from([2**-24, 0.001, 0.05, 1.0]), saturating=st.booleans(), workers=st.sampled_from([1, 2]))
def test_the_sgd_kernel_gives_the_numpy_steps_bits(seed, n, momentum, lr, saturating, workers):
    rng = np.random.default_rng(seed)
    w = rng.integers(-2**24, 2**24 + 1, n).astype(np.float64)
    gmax = 2**30 if saturating else fp.G_MAX                  # beyond G_MAX the step saturates
    g = rng.integers(-gmax * 2**16, gmax * 2**16, n) * 2.0**-16 + 0.5     # as the products write them
    w[: min(n, 4)] = [2**24, -2**24, 2**24 - 1, 0][: min(n, 4)]             # at the clamp
    buf = rng.integers(-2**24, 2**24, n).astype(np.float64) if momentum else None
    arrays = (w, g, buf)
    with_kernel = _sgd(arrays, lr, momentum, gmax, 2**24, workers, {0: 0, 1: 0})
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(kernels, "_load", lambda: None)
        without = _sgd(arrays, lr, momentum, gmax, 2**24, workers, {0: 0, 1: 0})
    assert np.array_equal(with_kernel[0], without[0])
    assert (buf is None) or np.array_equal(with_kernel[1], without[1])
    assert with_kernel[2:] == without[2:]


def test_the_sgd_kernel_leaves_the_int64_path_to_numpy(monkeypatch):
    # a buffer bound where float64 is not exact: the int64 formula runs, never the kernel
    calls = []
    real = kernels.sgd()
    monkeypatch.setattr(kernels, "sgd", lambda: lambda *a: calls.append(a) or real(*a))
    rng = np.random.default_rng(3)
    w = rng.integers(-2**24, 2**24, 1000).astype(np.float64)
    g = rng.integers(-2**27, 2**27, 1000).astype(np.float64)
    buf = np.full(1000, 2.0**38)
    optim.sgd_step(optim.NumpyOps, w, g, buf, 0.5, 0.999, 2**27, 2**38, optim.Scratch(optim.NumpyOps, 1000), {})
    assert calls == []
    optim.sgd_step(optim.NumpyOps, w, g, buf * 0, 0.5, 0.999, 2**27, 0, optim.Scratch(optim.NumpyOps, 1000), {})
    assert len(calls) == 1


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), b=st.sampled_from([2, 3, 32, 257, 4096]), c=st.sampled_from([2, 3, 10, 1000]),
       spread=st.sampled_from([0, 2**10, 2**20, 2**26]), pad=st.integers(0, 3))
def test_the_loss_kernel_gives_the_numpy_losses_and_gradients(seed, b, c, spread, pad):
    rng = np.random.default_rng(seed)
    z = np.zeros((b, c + pad))                                  # rows with a stride beyond c
    z[:, :c] = rng.integers(-spread, spread + 1, (b, c))
    z[0, :c] = spread                                           # a row of ties
    z[-1, :c] = -fp.ACT_MAX
    z[-1, 0] = fp.ACT_MAX                                       # the widest gap
    y = rng.integers(0, c, b)
    grad = np.full((b + 1, c), 7.0)
    losses = kernels.cross_entropy(z[:, :c], y, grad[:-1])
    want_losses, want_grad = fp.cross_entropy(z[:, :c].astype(np.int64), y)
    assert np.array_equal(losses, want_losses)
    assert np.array_equal(grad[:-1], want_grad.astype(np.float64)) and (grad[-1] == 7.0).all()


def test_the_loss_kernel_declines_what_it_cannot_read():
    z, g = np.zeros((4, 3)), np.zeros((4, 3))
    assert kernels.cross_entropy(z.T.copy().T, np.zeros(4, np.int64), g) is None      # columns not contiguous
    assert kernels.cross_entropy(z, np.zeros(4, np.int32), g) is None                 # labels not int64
    assert kernels.cross_entropy(z, np.zeros(4, np.int64), np.zeros((4, 3), np.float32)) is None


def test_the_kernels_refuse_what_would_read_out_of_bounds():
    z, g = np.zeros((4, 3)), np.zeros((4, 3))
    for labels in ([0, 1, 2, 3], [0, -1, 0, 0]):                 # a label past the row, or before it
        with pytest.raises(ValueError, match="labels must lie in 0..2"):
            kernels.cross_entropy(z, np.array(labels, dtype=np.int64), g)
    w = np.zeros(8)
    with pytest.raises(ValueError, match="differ"):
        optim.sgd_step(optim.NumpyOps, w, np.zeros(4), None, 0.1, 0.0, 1, 0, optim.Scratch(optim.NumpyOps, 8), {})


def test_without_a_compiler_the_numpy_step_runs_and_says_so(monkeypatch, tmp_path, caplog):
    monkeypatch.setenv("ZKPOT_KERNEL_DIR", str(tmp_path))
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    monkeypatch.setattr(kernels, "_tried", False)
    monkeypatch.setattr(kernels, "_loaded", None)
    with caplog.at_level(logging.WARNING, logger="zkpot.pot.kernels"):
        assert kernels.sgd() is None
    assert "fused optimiser kernel unavailable" in caplog.text and "numpy" in kernels.status()
    w = np.zeros(4)
    optim.sgd_step(optim.NumpyOps, w, np.full(4, 2.0**20), None, 1.0, 0.0, 2**20, 0, optim.Scratch(optim.NumpyOps, 4), {})
    assert (w == -65536).all()                                  # floor(2^20 * 2^24 * 2^-28 + 1/2)


def test_a_damaged_library_is_built_again(monkeypatch, tmp_path):
    monkeypatch.setenv("ZKPOT_KERNEL_DIR", str(tmp_path))
    monkeypatch.setattr(kernels, "_tried", False)
    monkeypatch.setattr(kernels, "_loaded", None)
    kernels.library_path().write_bytes(b"\x7fELF truncated")
    assert kernels.sgd() is not None and kernels.library_path().stat().st_size > 1000


def test_zkpot_native_0_chooses_numpy(monkeypatch):
    monkeypatch.setenv("ZKPOT_NATIVE", "0")
    monkeypatch.setattr(kernels, "_tried", False)
    monkeypatch.setattr(kernels, "_loaded", None)
    assert kernels.sgd() is None and "ZKPOT_NATIVE=0" in kernels.status()


def test_a_failing_compiler_is_a_reason(monkeypatch, tmp_path):
    cc = tmp_path / "cc"
    cc.write_text("#!/bin/sh\necho 'kernels.c:1: error: broken' >&2\nexit 1\n")
    cc.chmod(0o755)
    monkeypatch.setenv("ZKPOT_KERNEL_DIR", str(tmp_path / "k"))
    monkeypatch.setenv("CC", str(cc))
    with pytest.raises(RuntimeError, match="broken"):
        kernels.build()
    assert not any((tmp_path / "k").iterdir())                  # no partial library left behind


def test_a_stage_with_and_without_the_kernels_gives_the_same_bytes(monkeypatch):
    from tests.zkpot.stage_golden import path_of, render

    for name in ("digits28-mlp", "cover-saturating-sgd", "digits-cnn"):
        monkeypatch.setattr(kernels, "_load", lambda: None)
        without = render(name)
        monkeypatch.undo()
        assert without == render(name) == path_of(name).read_bytes(), name
