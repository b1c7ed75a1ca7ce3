"""Stage tasks: train (train queue), declare and reveal (the node's chain queue).

Thin doors over ``zkpot.node.work.Node``: each takes (job id, stage), and the node step
re-reads the chain and returns early when the work is done, so redelivery is harmless.
"""

from __future__ import annotations

from celery import shared_task

from workers.app import queues
from workers.node import current_node
from workers.tasks.steps import RETRY, run_step


@shared_task(bind=True, **RETRY)
def train_stage(self, job_id: int, stage: int) -> str:
    """Train a stage; on success hand the declaration to the chain queue."""
    outcome = run_step("train", job_id, stage, lambda node: node.train(job_id, stage))
    if current_node().store.secret(job_id, stage) is not None:
        declare_stage.apply_async(args=(job_id, stage), queue=queues.chain)
    return outcome


@shared_task(bind=True, **RETRY)
def declare_stage(self, job_id: int, stage: int) -> str:
    """Declare (weights hash, h_W, commitment, rand) for a trained stage, once."""
    return run_step("declare", job_id, stage, lambda node: node.declare(job_id, stage))


@shared_task(bind=True, **RETRY)
def reveal_stage(self, job_id: int, stage: int) -> str:
    """Reveal ρ when C declarations agree (uploads S_{i+1} first); no-op if already final."""
    return run_step("reveal", job_id, stage, lambda node: node.reveal(job_id, stage))
