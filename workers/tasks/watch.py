"""The chain watcher: runs every few seconds (beat), reconciles, and enqueues the next steps."""

from __future__ import annotations

import logging
import time

import redis
from celery import shared_task
from kombu.exceptions import OperationalError

from workers.app import queues
from workers.dedupe import done, once
from workers.node import current_node
from workers.quiet import CHAIN, REDIS
from workers.reports import send_given_up
from workers.tasks.proofs import prove_accuracy, submit_proof
from workers.tasks.stages import declare_stage, reveal_stage, settle_declaration, train_stage
from workers.tasks.steps import step_key
from zkpot.chain import ChainError

log = logging.getLogger("zkpot.worker")

# the next beat tick is the retry: a watcher never piles up retries of its own
UNREACHABLE = (ChainError, ConnectionError, TimeoutError, OSError)
# a queued step is not enqueued again for this long (the watcher runs every 2 s); a step whose
# worker was lost is enqueued again at once (``Plan.retaken``), not after this
ENQUEUE_GUARD_S = 30
_report_trouble: str | None = None   # the last error sending given-up reports (logged once)


@shared_task(bind=True, acks_late=True, ignore_result=True)
def watch_chain(self) -> None:
    """Read new events from the persisted cursor and enqueue what the node should do next."""
    node = current_node()
    try:
        plan = node.plan()
    except UNREACHABLE as exc:
        CHAIN.failed(str(exc))   # logged when the outage starts, then summarised
        return
    CHAIN.recovered()
    node.store.put("watched_at", str(int(time.time())))
    for note in plan.notes:
        log.info("%s", note)
    for note in plan.skipped:
        log.debug("%s", note)
    device = node.store.get("train_device", "cpu")
    try:
        for step in plan.retaken:
            done(step_key(node.identity.slug, step.kind, step.job_id, step.stage, step.attempt))
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
            # do not pile up copies of a step already queued
            if once(step_key(node.identity.slug, step.kind, step.job_id, step.stage, step.attempt),
                    ttl=ENQUEUE_GUARD_S):
                log.info("enqueue %s", step)
                task.apply_async(args=args, queue=queue, retry=False)
    except (redis.RedisError, OperationalError, OSError) as exc:
        REDIS.failed(str(exc))   # the next tick enqueues again: the plan is re-derived
        return
    REDIS.recovered()
    global _report_trouble
    try:   # the dashboard shows which steps were given up; a report never stops the watcher
        send_given_up(node, node.settings.report_url)
        _report_trouble = None
    except Exception as exc:  # noqa: BLE001 - logged once while it lasts
        if str(exc) != _report_trouble:
            log.warning("given-up reports not sent: %s: %s", type(exc).__name__, exc)
        _report_trouble = str(exc)
