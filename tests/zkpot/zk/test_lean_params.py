"""Which statements go without Freivalds' check: products small enough to constrain in full."""

from __future__ import annotations

from torch import nn

from zkpot.spec import build_model, preset
from zkpot.zk import CircuitParams, lean_params
from zkpot.zk.circuit import LEAN_PRODUCT_MACS, product_macs


def mlp(hidden: int = 8) -> nn.Sequential:
    return nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))


def test_products_are_counted_per_sample():
    assert product_macs(mlp(), (64,)) == 64 * 8 + 8 * 10
    conv = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 2, 3, stride=2),
                         nn.Flatten(), nn.Linear(2 * 3 * 3, 10))
    assert product_macs(conv, (1, 8, 8)) == 4 * 8 * 8 * 1 * 9 + 2 * 3 * 3 * 4 * 9 + 18 * 10


def test_the_federated_bench_statement_goes_without_freivalds():
    lean = lean_params(mlp(), (64,), 32)
    assert lean == CircuitParams(freivalds=False)


def test_a_large_statement_keeps_freivalds():
    model = build_model(preset("digits-mlp"))
    assert lean_params(model, (64,), 256).freivalds
    assert lean_params(model, (64,), 256, CircuitParams(margin_steps=2)) == CircuitParams(margin_steps=2)


def test_the_bound_is_inclusive():
    macs = product_macs(mlp(), (64,))
    n = LEAN_PRODUCT_MACS // macs
    assert not lean_params(mlp(), (64,), n).freivalds
    assert lean_params(mlp(), (64,), n + 1).freivalds
    exact = nn.Sequential(nn.Linear(2 ** 8, 2 ** 8))          # 2^16 multiply-adds a sample
    assert not lean_params(exact, (2 ** 8,), 1).freivalds
    assert lean_params(exact, (2 ** 8,), 2).freivalds
