"""Final-stage tasks: prove the final model's accuracy (prove queue), submit it (chain queue)."""

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


@shared_task(bind=True, **RETRY)
def prove_accuracy(self, job_id: int) -> str:
    """Prove the accuracy of the job's final model on each unproven test-set shard."""
    node = current_node()
    try:
        outcome = node.prove(job_id)
    except Skipped as why:
        log.warning("job %s not proven: %s", job_id, why)
        return f"skipped: {why}"
    finally:
        done(f"{node.identity.slug}:prove:{job_id}:0")
    log.info("job %s: %s", job_id, outcome)
    submit_proof.apply_async(args=(job_id,), queue=queues.chain)
    return outcome


@shared_task(bind=True, **RETRY)
def submit_proof(self, job_id: int) -> str:
    """Submit the proofs made for the job's shards that the chain has not accepted yet."""
    node = current_node()
    try:
        outcome = node.submit(job_id)
    except Skipped as why:
        log.warning("job %s proof not submitted: %s", job_id, why)
        return f"skipped: {why}"
    finally:
        done(f"{node.identity.slug}:submit:{job_id}:0")
    log.info("job %s: %s", job_id, outcome)
    return outcome
