"""The chain watcher: runs every few seconds (beat), reconciles, and enqueues the next steps."""

from __future__ import annotations

import logging

from celery import shared_task

from workers.app import queues
from workers.dedupe import once
from workers.node import current_node
from zkpot.chain import ChainError
from workers.tasks.proofs import prove_accuracy, submit_proof
from workers.tasks.stages import declare_stage, reveal_stage, settle_declaration, train_stage
from workers.tasks.steps import step_key

log = logging.getLogger("zkpot.worker")

# the next beat tick is the retry: a watcher never piles up retries of its own
UNREACHABLE = (ChainError, ConnectionError, TimeoutError, OSError)


@shared_task(bind=True, acks_late=True, ignore_result=True)
def watch_chain(self) -> None:
    """Read new events from the persisted cursor and enqueue what the node should do next."""
    node = current_node()
    try:
        plan = node.plan()
    except UNREACHABLE as exc:
        log.warning("chain or storage unreachable (%s); retrying on the next tick", exc)
        return
    for note in plan.notes:
        log.info("%s", note)
    for note in plan.skipped:
        log.debug("%s", note)
    device = node.store.get("train_device", "cpu")
    for step in plan.steps:
        task, queue = {
            "train": (train_stage, queues.train(device)),
            "declare": (declare_stage, queues.chain),
            "reveal": (reveal_stage, queues.chain),
            "settle": (settle_declaration, queues.chain),
            "prove": (prove_accuracy, queues.prove),
            "submit": (submit_proof, queues.chain),
        }[step.kind]
        args = (step.job_id, step.stage, step.attempt) if step.kind in ("train", "declare", "reveal") \
            else (step.job_id,)
        # the watcher runs every few seconds: do not pile up copies of a step already queued
        if once(step_key(node.identity.slug, step.kind, step.job_id, step.stage, step.attempt), ttl=30):
            log.info("enqueue %s", step)
            task.apply_async(args=args, queue=queue)
