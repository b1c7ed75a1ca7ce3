"""Stage tasks: train (train queue), declare, reveal and settle (the node's chain queue).

Thin doors over ``zkpot.node.work.Node``: each takes (job id, stage, attempt), and the node
step re-reads the chain and returns early when the work is done, so redelivery is harmless.
"""

from __future__ import annotations

from celery import shared_task

from workers.app import queues
from workers.node import current_node
from workers.tasks.steps import RETRY, run_step


@shared_task(bind=True, **RETRY)
def train_stage(self, job_id: int, stage: int, attempt: int) -> str:
    """Train a stage attempt; on success hand the declaration to the chain queue."""
    outcome = run_step("train", job_id, stage, lambda node: node.train(job_id, stage, attempt), attempt)
    if current_node().store.secret(job_id, stage, attempt) is not None:
        declare_stage.apply_async(args=(job_id, stage, attempt), queue=queues.chain)
    return outcome


@shared_task(bind=True, **RETRY)
def declare_stage(self, job_id: int, stage: int, attempt: int) -> str:
    """Declare (the commitment to ρ, H(S), h_W, rand) for a trained attempt, once."""
    return run_step("declare", job_id, stage, lambda node: node.declare(job_id, stage, attempt), attempt)


@shared_task(bind=True, **RETRY)
def reveal_stage(self, job_id: int, stage: int, attempt: int) -> str:
    """Open the declaration in its reveal phase (stores S_{i+1} first); no-op if opened."""
    return run_step("reveal", job_id, stage, lambda node: node.reveal(job_id, stage, attempt), attempt)


@shared_task(bind=True, **RETRY)
def settle_declaration(self, job_id: int) -> str:
    """Settle the node's declaration in the job (reward, collateral, bounty share)."""
    return run_step("settle", job_id, 0, lambda node: node.settle(job_id))
