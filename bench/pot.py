"""Proof-of-Training benchmark: cost of the training secret, of exact fixed-point training, and
the accuracy of models trained through stages versus plain float torch training."""

from __future__ import annotations

import time

import numpy as np
import torch

from zkpot.datasets import demo_dataset, split
from zkpot.spec import Adam, preset
from zkpot.stage import evaluate, float_model, initial_weights, train_stage
from zkpot.staging import plan_stages

TARGET_FLOPS = 3_000_000          # work per stage for the demo (about 250 digits-MLP samples)


def _staged(spec, train, chunks, secret: bool):
    state, started = initial_weights(spec), time.perf_counter()
    for i, idx in enumerate(chunks, 1):
        state = train_stage(spec, state, train.subset(idx), i, compute_secret=secret).state
    return state, time.perf_counter() - started


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
    """Figures: pot_overhead_ratio, stage_s_cpu, plain_training_s and accuracy comparisons."""
    results: dict = {}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)      # one thread for both sides: comparable on a shared machine
    try:
        return _run(ctx, results)
    finally:
        torch.set_num_threads(threads)


def _run(ctx, results: dict) -> dict:
    cases = [("digits-mlp", "digits", "")] + ([] if ctx.quick else [("digits-cnn", "digits-images", "_cnn")])
    for name, data, suffix in cases:
        spec = preset(name)
        train, test = split(demo_dataset(data), 0.2, seed=1)
        chunks = plan_stages(spec, len(train), TARGET_FLOPS, train.input_shape, train.num_classes)
        order = np.concatenate(chunks)
        with_secret, without = [], []
        for _ in range(1 if suffix else 3):      # interleaved, best of
            state, seconds = _staged(spec, train, chunks, secret=True)
            with_secret.append(seconds)
            without.append(_staged(spec, train, chunks, secret=False)[1])
        model, float_s = _plain_float(spec, train, order)
        results[f"pot_accuracy_staged{suffix}"] = evaluate(spec, state, test.features, test.labels)
        results[f"pot_accuracy_plain_float{suffix}"] = _accuracy(model, test)
        results[f"pot_fixed_vs_float_ratio{suffix}"] = round(min(with_secret) / float_s, 2)
        if not suffix:
            results["pot_overhead_ratio"] = round(min(with_secret) / min(without), 4)
            results["stage_s_cpu"] = round(min(with_secret) / len(chunks), 4)
            results["pot_stages"] = len(chunks)
            results["plain_training_s"] = round(float_s, 3)
            results["pot_staged_training_s"] = round(min(with_secret), 3)
    ctx.notes["stage_s_gpu"] = "no GPU on this machine; run `python -m zkpot.stage --selfcheck --device cuda` on one"
    ctx.notes["pot"] = (f"digits split 80/20 seed 1, {TARGET_FLOPS} FLOPs per stage; overhead = stage with rho "
                        "vs the same fixed-point loop without it; fixed_vs_float = fixed-point stages vs plain "
                        "float torch training of the same model; both on 1 torch thread")
    return results
