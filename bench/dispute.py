"""Dispute benchmark: the one-step check's gas per operation at the largest preset's sizes, the
round bound of issue 16's formula, and the honest side's extra compute per dispute.

- gas_dispute_step_<op>, gas_dispute_step_max: eth_estimateGas of each ``OneStepProver``
  function (transaction base cost and call data included) on a fresh Anvil, every operand opened
  against a tensor as large as the largest committed tensor of the largest presets' stage
  (``digits28-mlp`` and ``digits28-lenet``: the state vector, whose openings are the deepest),
  table entries against the table root; MaxPool at LeNet's 2x2 window and at the largest window
  the spec allows (11x11, ``gas_dispute_step_pool_11x11``).
- dispute_rounds_bound: ceil(log2 batches) + ceil(log2 operations per batch) + ceil(log2 elements
  of the largest operation) + 2, for a 2048-sample stage of the largest preset (the issue's
  bound). dispute_rounds_per_side needs the game contract, which is not built yet: None.
- dispute_honest_compute_ratio: wall time of what the honest side computes for a dispute of such
  a stage -- one ``trace_stage`` pass keeping every per-batch state vector, the roots a
  bisection over batches asks for (ceil(log2 batches) + 2), every operation of one batch with
  its root, one product element's partial sums and their root -- over the wall time of
  ``train_stage`` of that stage; the two alternate, median of the repeats' ratios.
"""

from __future__ import annotations

import math
import os
import time

import numpy as np

from zkpot.datasets import demo_dataset
from zkpot.pot import merkle
from zkpot.pot.layout import layout_for
from zkpot.pot.trace import partial_sums, trace_stage
from zkpot.spec import PRESET_DATASETS, preset
from zkpot.stage import initial_weights, train_stage

LARGEST = ("digits28-mlp", "digits28-lenet")
SAMPLES = 2048
REPEATS = 3


def _stage(name: str, samples: int):
    spec = preset(name)
    ds = demo_dataset(PRESET_DATASETS[name])
    return spec, initial_weights(spec), ds.subset(np.arange(samples) % len(ds))


def _operand(rng: np.random.Generator, n: int, value: int, index: int | None = None) -> tuple:
    """An opening of ``value`` in a tensor of n elements: random other leaf values and siblings,
    and the root they imply (a real commitment of some tensor of that length)."""
    index = int(rng.integers(0, n)) if index is None else index
    chunk = [int(v) for v in rng.integers(-2**20, 2**20, merkle.LEAF_SIZE)]
    chunk[index % merkle.LEAF_SIZE] = int(value)
    proof = [bytes(rng.integers(0, 256, 32, dtype=np.uint8)) for _ in range(merkle.depth(n))]
    root = merkle.root_from(n, index, chunk, proof)
    return (("0x" + root.hex(), n), (index, chunk, ["0x" + p.hex() for p in proof]))


def _table(index: int) -> tuple:
    from zkpot.pot import fixedpoint as fp
    hi, lo, ln, _ = fp.tables()
    t = merkle.tree(np.concatenate([hi, lo, ln]))
    return (index, t.chunk(index), ["0x" + p.hex() for p in t.proof(index)])


def gas(largest_n: int, work_dir) -> dict:
    from zkpot.chain import ChainClient
    from zkpot.devnet import Anvil, dev_private_keys

    rng = np.random.default_rng(16)
    op = lambda v: _operand(rng, largest_n, v)  # noqa: E731
    with Anvil(log_dir=work_dir / "logs") as anvil:
        client = ChainClient(anvil.rpc_url, dev_private_keys(1)[0])
        p = client.deploy("OneStepProver").functions
        d = 2**16 + 5
        calls = {
            "product": p.productStep(op(2**80), op(2**29), op(-2**29)),
            "sum": p.addStep(op(2**80), op(2**40)),
            "max": p.maxStep(op(5), op(7)),
            "product_output": p.productOutput(op(2**50), op(-2**23), True),
            "weight_gradient": p.weightGradient(op(2**50)),
            "input_gradient": p.inputGradientEntry(op(2**50)),
            "saturate": p.saturateGradient(op(2**40)),
            "relu": p.reluGradient(op(-2**26), op(3)),
            "exp": p.expEntry(op(d), op(0), _table(d >> 10), _table(1024 + (d & 1023))),
            "loss": p.lossEntry(op(3 * 2**30 + 12345), op(2**20), op(0), _table(2048 + 512),
                                _table(2049 + 512)),
            "softmax_gradient": p.softmaxGradient(op(2**29), op(3 * 2**30), True, 32),
            "sgd": p.sgd(op(2**23), op(-2**26), op(2**37), 2**20, 16760439, True),
            "adam": p.adam(op(2**23), op(-2**26), op(2**26), op(2**37), [15099494, 16760439, 2**33, 2**10]),
            "pool": p.poolChoice([op(v) for v in (1, 9, 9, 3)]),
            "pool_11x11": p.poolChoice([op(int(v)) for v in rng.integers(-2**26, 2**26, 121)]),
        }
        out = {f"gas_dispute_step_{name}": call.estimate_gas() for name, call in calls.items()}
    out["gas_dispute_step_max"] = max(v for k, v in out.items() if k != "gas_dispute_step_pool_11x11")
    return out


def sizes(name: str) -> dict:
    """Batches, operations of one batch, the largest operation and state vector of a stage."""
    spec, s0, chunk = _stage(name, SAMPLES)
    trace = trace_stage(spec, s0, chunk, 1, roots_at=[0], detail=0)
    layout = layout_for(spec)
    return {"batches": trace.batches, "ops": len(trace.ops), "elements": max(o.values.size for o in trace.ops),
            "state": layout.size * (1 + len(layout.buffers)) + 1}


def honest_ratio(name: str, repeats: int) -> float:
    spec, s0, chunk = _stage(name, SAMPLES)
    layout = layout_for(spec)
    ratios = []
    for r in range(repeats):
        def train():
            t = time.perf_counter()
            train_stage(spec, s0, chunk, 1)
            return time.perf_counter() - t

        def honest():
            t = time.perf_counter()
            trace = trace_stage(spec, s0, chunk, 1, roots_at=[], detail=1, keep_states=True)
            lo, hi = 0, trace.batches             # a bisection to batch 1: the roots it asks for
            trace.state_root(lo), trace.state_root(hi)
            while hi - lo > 1:
                mid = (lo + hi) // 2
                trace.state_root(mid)
                lo, hi = (mid, hi) if mid <= 1 else (lo, mid)
            trace.op_roots()
            # one element of the first product: its K partial sums and their root
            w = s0.params[layout.slots[0].name].reshape(layout.slots[0].shape[0], -1)[0]
            x = trace.op("input").values.reshape(-1)[:w.size]
            merkle.root(np.array(partial_sums(x, w), dtype=object))
            return time.perf_counter() - t

        a, b = (train(), honest()) if r % 2 == 0 else (None, honest())
        if a is None:
            a = train()
        ratios.append(b / a)
    return float(np.median(ratios))


def run(ctx) -> dict:
    found = {name: sizes(name) for name in LARGEST}
    largest_n = max(max(s["state"], s["elements"]) for s in found.values())
    out = gas(largest_n, ctx.work_dir)
    lg = lambda v: math.ceil(math.log2(v)) if v > 1 else 0  # noqa: E731
    bounds = {name: lg(s["batches"]) + lg(s["ops"]) + lg(s["elements"]) + 2 for name, s in found.items()}
    out["dispute_rounds_bound"] = max(bounds.values())
    out["dispute_rounds_per_side"] = None
    ctx.notes["dispute_rounds_per_side"] = "the bisection game contract is not built yet (docs/disputes.md)"
    ratios = {name: honest_ratio(name, 1 if ctx.quick else REPEATS) for name in LARGEST}
    out["dispute_honest_compute_ratio"] = max(ratios.values())
    for name, r in ratios.items():
        out[f"dispute_honest_compute_ratio_{name.split('-')[1]}"] = round(r, 2)
    ctx.notes["dispute_sizes"] = (f"{found}; largest committed tensor {largest_n} elements "
                                  f"(depth {merkle.depth(largest_n)}); load {os.getloadavg()[0]:.1f}")
    return out
