"""End-to-end benchmark: the demo-sized delegated job, from posting it through the API to the
job completing on-chain (every stage trained by three nodes with C=2, the test set published,
the accuracy proven in zk and verified by the ezkl verifier contract), on free ports.

``plain_training_s`` is bench/pot.py's (the whole digits training split); this suite adds
``e2e_plain_training_s``: plain float torch training of exactly the demo job's samples, order,
model and S_0, for the ratio next to ``e2e_job_s``.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from zkpot.chain import JobStatus
from zkpot.datasets import load_npz, split
from demo.job import run_job
from demo.run import (DEMO_SAMPLES, DEMO_SHARD_SIZE, DEMO_STAGE_FLOPS, SHORT_STAGE_FLOPS,
                            SHORT_THETA, demo_request)
from demo.stack import CircuitChoice, DemoStack
from zkpot.devnet import free_port
from zkpot.spec import ModelSpec
from zkpot.staging import plan_stages


def _plain_training_s(request) -> float:
    """Float torch training of the job's own training order (1 thread, as bench/pot.py)."""
    from bench.pot import _plain_float

    spec = ModelSpec.from_json(request.spec)
    train, _ = split(load_npz(request.dataset_npz), 0.2, spec.seed)
    order = np.concatenate(plan_stages(spec, len(train), request.stage_flops, train.input_shape,
                                       train.num_classes))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return min(_plain_float(spec, train, order)[1] for _ in range(3))
    finally:
        torch.set_num_threads(threads)


def run(ctx) -> dict:
    """Figures: e2e_job_s and the job's stages, proof, gas and plain-training comparison."""
    if ctx.quick:
        samples, flops, shard, theta = DEMO_SAMPLES, SHORT_STAGE_FLOPS, DEMO_SHARD_SIZE, SHORT_THETA
    else:
        samples, flops, shard, theta = DEMO_SAMPLES, DEMO_STAGE_FLOPS, DEMO_SHARD_SIZE, 0.8
    request = demo_request(samples, flops, shard, theta)
    root = ctx.work_dir / "e2e"
    stack = DemoStack(root=root, circuit_dir=ctx.work_dir / "circuits", anvil_port=free_port(),
                      redis_port=free_port(), api_port=free_port(),
                      circuit=CircuitChoice("digits-mlp", shard), say=lambda _: None)
    started = time.monotonic()
    with stack:
        setup_s = time.monotonic() - started
        outcome = run_job(stack, request, line=lambda _: None, timeout=1800)
    plain = _plain_training_s(request)
    if outcome.status != JobStatus.COMPLETED:
        ctx.notes["e2e_job_s"] = f"the job ended {outcome.status.name}, not completed"
        return {"e2e_job_s": None}
    ctx.notes["e2e"] = (f"{samples} digits uploaded through the API (80/20 split), digits-mlp preset, "
                        f"{outcome.stage_count} stages, C=2, three nodes (one compute worker each) on this "
                        f"machine, {outcome.samples // shard} proof shard(s) of N={shard}; e2e_job_s = "
                        "POST /api/jobs → JobCompleted (stage training by every node, declarations, "
                        "reveals, test-set publication, zk proving and on-chain verification); start-up "
                        f"(deploy, circuit {'setup' if stack.circuit_created else 'cached'}) excluded")
    return {
        "e2e_job_s": round(outcome.job_seconds, 1),
        "e2e_plain_training_s": round(plain, 3),
        "e2e_vs_plain_ratio": round(outcome.job_seconds / plain, 1),
        "e2e_stages": outcome.stage_count,
        "e2e_startup_s": round(setup_s, 1),
        "e2e_proven_correct": outcome.proven_correct,
        "e2e_reference_correct": outcome.reference_correct,
        "e2e_float_correct": outcome.float_correct,
        "e2e_test_samples": outcome.samples,
        "e2e_gas_total": sum(g for _, g in outcome.gas.values()),
    }
