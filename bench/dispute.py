"""Dispute benchmark: the one-step check's gas per operation at the largest preset's sizes, the
round bound of issue 16's formula, and the honest side's extra compute per dispute.

- gas_dispute_step_<op>, gas_dispute_step_max: eth_estimateGas of each ``OneStepProver``
  function (transaction base cost and call data included) on a fresh Anvil, every operand opened
  against a tensor as large as the largest committed tensor of the largest presets' stage
  (``digits28-mlp`` and ``digits28-lenet``: the state vector, whose openings are the deepest),
  table entries against the table root; MaxPool at LeNet's 2x2 window and at the largest window
  the spec allows (11x11, ``gas_dispute_step_pool_11x11``).
- whole games (``StageDispute`` and ``MlpStepRules`` on a fresh Anvil) over a 2048-sample stage
  of ``digits28-mlp``, the largest preset the game judges: an honest challenger against a
  defender that fabricated one element of batch 37, one game per operation kind
  (``GAME_LIES``; in a reduction the lie starts inside its partial sums, so ``resolve`` judges a
  full step of 16 terms). dispute_rounds_per_side: the most moves either side made in any of them
  (the challenge and ``resolve`` counted); dispute_rounds_bound: the issue's bound
  ceil(log2 batches) + ceil(log2 operations per batch) + ceil(log2 elements) + 2 for the
  largest operation of that stage (each game's own bound, for its operation, is in the notes);
  gas_dispute_resolve_<kind>: gas used by ``resolve`` (the one-step check of 16 terms of a
  reduction, or one element) in that game, gas_dispute_move_max the largest of any other move.
  gas_dispute_step_max: the largest of the resolves and of the prover's operations above.
- dispute_honest_compute_ratio: wall time of what the honest side computes for a dispute of that
  stage -- ``zkpot.pot.game.Side`` (one ``trace_stage`` pass keeping every 8th state vector),
  the roots a bisection over batches asks for (ceil(log2 batches) + 2; the states between two
  kept ones re-run from the one before, once), the disputed
  batch's operations traced alone and their trees, one element's partial sums at every point
  and the openings of one step -- over the wall time of ``train_stage`` of that stage; the two
  alternate, median of the repeats' ratios. dispute_honest_compute_ratio_lenet: the same work
  estimated from ``trace_stage`` for digits28-lenet, which the game does not judge yet.
"""

from __future__ import annotations

import math
import os
import time

import numpy as np

from zkpot.datasets import demo_dataset
from zkpot.pot import merkle
from zkpot.pot.layout import layout_for
from zkpot.pot.game import Fabricated, Side
from zkpot.pot.trace import partial_sums, trace_stage
from zkpot.spec import PRESET_DATASETS, preset
from zkpot.stage import initial_weights, train_stage

LARGEST = ("digits28-mlp", "digits28-lenet")
JUDGED = "digits28-mlp"           # the largest preset the game judges
SAMPLES = 2048
REPEATS = 3
GAME_BATCH = 37
GAME_LIES = [  # (operation kind, layer, element, the partial sum the lie starts at) of the fabricated value
    ("FwdLinear", 0, 4321, 0), ("LossMax", 0, 5, 0), ("LossExp", 0, 77, None), ("LossGrad", 0, 200, None),
    ("LossSum", 0, 9, 0), ("WeightGrad", 0, 150_000, 1), ("WeightGrad", 0, 784 * 256 + 7, 0),
    ("Param", 0, 12_345, None), ("Momentum", 1, 999, None), ("BwdLinear", 1, 1000, 2), ("BwdRelu", 0, 300, None),
    ("State", 0, 400_000, None),
]


def _stage(name: str, samples: int):
    spec = preset(name)
    ds = demo_dataset(PRESET_DATASETS[name])
    return spec, initial_weights(spec), ds.subset(np.arange(samples) % len(ds))


def _operand(rng: np.random.Generator, n: int, value: int, index: int | None = None) -> tuple:
    """An opening of ``value`` in a tensor of n elements: random other leaf values and siblings,
    and the root they imply (a real commitment of some tensor of that length)."""
    index = int(rng.integers(0, n)) if index is None else index
    values = [int(v) for v in rng.integers(-2**20, 2**20, merkle.LEAF_SIZE)]
    values[index % merkle.LEAF_SIZE] = int(value)
    chunk = merkle.pack(values)
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
            "product": p.productStep(op(2**62), op(2**29), op(-2**29)),   # the largest opened acc
            "sum": p.addStep(op(2**62), op(2**40)),
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


def games(honest: Side, work_dir) -> dict:
    """Whole games against a fabricated element of each kind; moves and gas."""
    from zkpot.chain import ChainClient
    from zkpot.chain.dispute import Challenger, Defender, Dispute, deploy, play
    from zkpot.devnet import Anvil, dev_private_keys

    p = honest.program
    b = p.batches()[GAME_BATCH][1]
    out: dict = {"moves": {}, "resolve": {}, "move_max": 0}
    with Anvil(log_dir=work_dir / "game-logs") as anvil:
        keys = dev_private_keys(3)
        clients = [ChainClient(anvil.rpc_url, k) for k in keys]
        dep = deploy(clients[0], min_bond=10**16, challenge_window=3600, response_window=600)
        for kind, layer, element, partial_from in GAME_LIES:
            t = p.index(kind, layer)
            lie = Fabricated(honest, GAME_BATCH, t, element % p.length(b, t), delta=5, partial_from=partial_from)
            d = Defender(Dispute(clients[1], dep.game), lie)
            c = Challenger(Dispute(clients[2], dep.game), honest)
            gid = c.challenge(d.claim(10**16))
            play(d.dispute, gid, d, c)
            g = d.dispute.game(gid)
            if g["winner"] != clients[2].address:
                raise AssertionError(f"the fabricated {kind} was not overturned")
            name = f"{kind}.{layer}" + (".bias" if kind == "WeightGrad" and element >= 784 * 256 else "")
            out["moves"][name] = (g["defenderMoves"], g["challengerMoves"], p.rounds_bound(t, b))
            out["resolve"][name] = dict(c.gas)["resolve"]
            out["move_max"] = max([out["move_max"]] + [gas for m, gas in d.gas + c.gas if m != "resolve"])
    return out


def honest_side_work(spec, s0, chunk) -> Side:
    """What an honest side computes in a dispute over a fabricated element of batch 1."""
    side = Side(spec, s0, chunk, 1)
    lo, hi = 0, side.batches
    side.state_root(lo), side.state_root(hi)
    while hi - lo > 1:                          # a bisection to batch 1: the roots it asks for
        mid = (lo + hi) // 2
        side.state_root(mid)
        lo, hi = (mid, hi) if mid <= 1 else (lo, mid)
    side.op_roots(1)
    t = side.program.index("FwdLinear", 0)      # the longest reduction: every partial sum, one step's openings
    for point in range(side.program.steps(side.program.batches()[1][1], t) + 1):
        side.partial(1, t, 100, point)
    side.operands(1, t, 100, 3)
    return side


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
            if name == JUDGED:
                honest_side_work(spec, s0, chunk)
                return time.perf_counter() - t
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
    spec, s0, chunk = _stage(JUDGED, SAMPLES)
    honest = Side(spec, s0, chunk, 1)
    played = games(honest, ctx.work_dir)
    p, b = honest.program, honest.program.batches()[GAME_BATCH][1]
    out["dispute_rounds_per_side"] = max(max(d, c) for d, c, _ in played["moves"].values())
    out["dispute_rounds_bound"] = max(p.rounds_bound(t, b) for t in range(len(p.ops)))     # its largest operation
    out["dispute_rounds_bound_lenet"] = bounds["digits28-lenet"]
    for kind, used in played["resolve"].items():
        out[f"gas_dispute_resolve_{kind}"] = used
    out["gas_dispute_move_max"] = played["move_max"]
    out["gas_dispute_step_max"] = max(out["gas_dispute_step_max"], max(played["resolve"].values()))
    ctx.notes["dispute_games"] = ("(defender moves, challenger moves, bound for the disputed operation) per "
                                  f"fabricated element: {played['moves']}")
    ratios = {name: honest_ratio(name, 1 if ctx.quick else REPEATS) for name in LARGEST}
    out["dispute_honest_compute_ratio"] = ratios[JUDGED]
    for name, r in ratios.items():
        out[f"dispute_honest_compute_ratio_{name.split('-')[1]}"] = round(r, 2)
    ctx.notes["dispute_sizes"] = (f"{found}; largest committed tensor {largest_n} elements "
                                  f"(depth {merkle.depth(largest_n)}); load {os.getloadavg()[0]:.1f}")
    return out
