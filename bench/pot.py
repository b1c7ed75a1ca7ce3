"""Proof-of-Training benchmark: cost of the training secret, of exact fixed-point training, and
the accuracy of models trained through stages versus plain float torch training.

The overhead of rho is measured stage by stage: each stage runs with and without the secret back
to back (which goes first alternates), the whole stage sequence at least ``REPEATS`` times and
until there are ``MIN_PAIRS`` pairs. The figure is each stage's median ratio (with / without)
weighted by the stage's time: pairs share the machine's load of the moment, and the median
ignores the runs that other work on a shared machine interrupted. Every preset in ``PRESETS``
with a demo dataset is measured.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from zkpot.datasets import demo_dataset, split
from demo.run import DEMO_STAGE_FLOPS as TARGET_FLOPS  # the demo job's stage work
from zkpot.spec import PRESET_DATASETS, PRESETS, Adam, preset
from zkpot.stage import evaluate, float_model, initial_weights, train_stage
from zkpot.staging import plan_stages

REPEATS, MIN_PAIRS = 9, 60       # --quick: 3 and 20
SUFFIX = {"digits-mlp": "", "digits-cnn": "_cnn", "wine-mlp": "_wine"}   # figure name per preset


def _stage_times(spec, parts, repeats: int) -> tuple[dict[str, dict[bool, np.ndarray]], object]:
    """Wall and thread-CPU seconds of every stage with and without rho; each (repeats, stages)."""
    wall = {s: np.zeros((repeats, len(parts))) for s in (True, False)}
    cpu = {s: np.zeros((repeats, len(parts))) for s in (True, False)}
    train_stage(spec, initial_weights(spec), parts[0], 1)          # warm-up: tables, allocator
    for r in range(repeats):
        state = initial_weights(spec)
        for i, part in enumerate(parts):
            for secret in (True, False) if (r + i) % 2 == 0 else (False, True):
                c0, w0 = time.thread_time(), time.perf_counter()
                result = train_stage(spec, state, part, i + 1, compute_secret=secret)
                wall[secret][r, i] = time.perf_counter() - w0
                cpu[secret][r, i] = time.thread_time() - c0
            state = result.state          # the same with or without rho
    return {"wall": wall, "cpu": cpu}, state


def _overhead(times: dict[bool, np.ndarray]) -> tuple[float, np.ndarray]:
    """Time with rho / without: each stage's median paired ratio, weighted by its median time."""
    pairs = times[True] / times[False]
    weight = np.median(times[False], axis=0)
    return float((np.median(pairs, axis=0) * weight).sum() / weight.sum()), pairs.ravel()


def _plain_float(spec, train, order):
    """Plain float torch training of the same model, same S_0, order, batch size and optimiser."""
    torch.manual_seed(spec.seed)
    model = float_model(spec, initial_weights(spec)).train()
    opt = spec.optimizer
    if isinstance(opt, Adam):
        optim = torch.optim.Adam(model.parameters(), lr=opt.lr, betas=opt.betas, eps=opt.eps)
    else:
        optim = torch.optim.SGD(model.parameters(), lr=opt.lr, momentum=opt.momentum)
    x, y = torch.from_numpy(train.features[order]), torch.from_numpy(train.labels[order])
    loss_fn = torch.nn.CrossEntropyLoss()
    started = time.perf_counter()
    for s in range(0, len(order), spec.batch_size):
        optim.zero_grad()
        loss_fn(model(x[s:s + spec.batch_size]), y[s:s + spec.batch_size]).backward()
        optim.step()
    return model.eval(), time.perf_counter() - started


def _accuracy(model, test) -> float:
    with torch.no_grad():
        pred = model(torch.from_numpy(test.features)).argmax(1).numpy()
    return float((pred == test.labels).mean())


def run(ctx) -> dict:
    """Figures: pot_overhead_ratio[_cnn,_wine], stage_s_cpu, plain_training_s, accuracy comparisons."""
    results: dict = {}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)      # one thread for both sides: comparable on a shared machine
    try:
        return _run(ctx, results)
    finally:
        torch.set_num_threads(threads)


def _run(ctx, results: dict) -> dict:
    repeats, min_pairs = (3, 20) if ctx.quick else (REPEATS, MIN_PAIRS)
    spreads = []
    for name in PRESETS:
        if name not in PRESET_DATASETS:
            ctx.notes[f"pot_{name}"] = f"preset {name} has no demo dataset: not measured"
            continue
        suffix = SUFFIX.get(name, "_" + name.replace("-", "_"))
        spec = preset(name)
        train, test = split(demo_dataset(PRESET_DATASETS[name]), 0.2, seed=1)
        chunks = plan_stages(spec, len(train), TARGET_FLOPS, train.input_shape, train.num_classes)
        times, state = _stage_times(spec, [train.subset(idx) for idx in chunks],
                                    max(repeats, -(-min_pairs // len(chunks))))
        ratio, pairs = _overhead(times["wall"])
        cpu_ratio, _ = _overhead(times["cpu"])
        staged_s = float(np.median(times["wall"][True], axis=0).sum())
        order = np.concatenate(chunks)
        runs = [_plain_float(spec, train, order) for _ in range(repeats)]
        model, float_s = runs[0][0], float(np.median([seconds for _, seconds in runs]))
        results[f"pot_overhead_ratio{suffix}"] = round(ratio, 4)
        results[f"pot_accuracy_staged{suffix}"] = evaluate(spec, state, test.features, test.labels)
        results[f"pot_accuracy_plain_float{suffix}"] = _accuracy(model, test)
        results[f"pot_fixed_vs_float_ratio{suffix}"] = round(staged_s / float_s, 2)
        q1, q2, q3 = np.percentile(pairs, [25, 50, 75])
        spreads.append(f"{name} {ratio:.3f} ({len(pairs)} pairs: median {q2:.3f}, quartiles {q1:.3f}..{q3:.3f}; "
                       f"thread CPU time {cpu_ratio:.3f}; {len(chunks)} stages, {len(order)} samples)")
        if not suffix:
            results["stage_s_cpu"] = round(staged_s / len(chunks), 4)
            results["pot_stages"] = len(chunks)
            results["plain_training_s"] = round(float_s, 3)
            results["pot_staged_training_s"] = round(staged_s, 3)
    ctx.notes["stage_s_gpu"] = "no GPU on this machine; run `python -m zkpot.stage --selfcheck --device cuda` on one"
    ctx.notes["pot"] = (f"80/20 splits seed 1, {TARGET_FLOPS} FLOPs per stage, 1 torch thread. overhead = "
                        "wall time of a stage with rho / the same stage without it, run back to back; each "
                        "stage's median ratio weighted by its time: " + "; ".join(spreads)
                        + ". fixed_vs_float = median time of those fixed-point stages (with rho) vs plain "
                        "float torch training of the same model, order and S_0")
    return results
