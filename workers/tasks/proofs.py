"""Final-stage tasks: prove the final model's accuracy (prove queue), submit it (chain queue)."""

from __future__ import annotations

from celery import shared_task

from workers.app import queues
from workers.tasks.steps import RETRY, hand_on, run_step
from zkpot.node.outcomes import OutcomeKind


@shared_task(bind=True, **RETRY)
def prove_accuracy(self, job_id: int) -> dict:
    """Prove the accuracy of the job's final model on each unproven test-set shard."""
    outcome = run_step("prove", job_id, 0, lambda node: node.prove(job_id))
    if outcome.kind not in (OutcomeKind.SKIPPED, OutcomeKind.FAILED):
        hand_on(submit_proof, (job_id,), queues.chain)
    return outcome.as_dict()


@shared_task(bind=True, **RETRY)
def submit_proof(self, job_id: int) -> dict:
    """Submit the proofs made for the job's shards that the chain has not accepted yet."""
    return run_step("submit", job_id, 0, lambda node: node.submit(job_id)).as_dict()
