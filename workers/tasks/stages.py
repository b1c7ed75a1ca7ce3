"""Stage tasks: train (train queue), declare and reveal (the node's chain queue).

Thin doors over ``zkpot.node.work.Node``: each takes (job id, stage), and the node step
re-reads the chain and returns early when the work is done, so redelivery is harmless.
"""

from __future__ import annotations

import logging

from celery import shared_task

from workers.app import queues
from workers.dedupe import done
from workers.node import current_node
from zkpot.chain import ChainError, ContractError
from zkpot.node.work import Skipped

log = logging.getLogger("zkpot.worker")

# transport trouble (RPC or storage unreachable) is retried with backoff; a revert is not
RETRYABLE = (ChainError, ConnectionError, TimeoutError, OSError)
RETRY = dict(acks_late=True, autoretry_for=RETRYABLE, dont_autoretry_for=(ContractError,),
             retry_backoff=2, retry_backoff_max=60, retry_jitter=True, max_retries=20)


def _step_done(kind: str, job_id: int, stage: int) -> None:
    done(f"{current_node().identity.slug}:{kind}:{job_id}:{stage}")


@shared_task(bind=True, **RETRY)
def train_stage(self, job_id: int, stage: int) -> str:
    """Train a stage; on success hand the declaration to the chain queue."""
    node = current_node()
    try:
        outcome = node.train(job_id, stage)
    except Skipped as why:
        log.warning("job %s stage %s not trained: %s", job_id, stage, why)
        return f"skipped: {why}"
    finally:
        _step_done("train", job_id, stage)
    log.info("job %s stage %s: %s", job_id, stage, outcome)
    if node.store.secret(job_id, stage) is not None:
        declare_stage.apply_async(args=(job_id, stage), queue=queues.chain)
    return outcome


@shared_task(bind=True, **RETRY)
def declare_stage(self, job_id: int, stage: int) -> str:
    """Declare (weights hash, h_W, commitment, rand) for a trained stage, once."""
    try:
        outcome = current_node().declare(job_id, stage)
    finally:
        _step_done("declare", job_id, stage)
    log.info("job %s stage %s: %s", job_id, stage, outcome)
    return outcome


@shared_task(bind=True, **RETRY)
def reveal_stage(self, job_id: int, stage: int) -> str:
    """Reveal ρ when C declarations agree (uploads S_{i+1} first); no-op if already final."""
    try:
        outcome = current_node().reveal(job_id, stage)
    finally:
        _step_done("reveal", job_id, stage)
    log.info("job %s stage %s: %s", job_id, stage, outcome)
    return outcome
