"""What every node task shares: the retry policy and running one idempotent node step."""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Callable

import redis
from celery.signals import task_retry
from kombu.exceptions import OperationalError

from workers.dedupe import done
from workers.node import current_node
from workers.quiet import CHAIN, REDIS
from zkpot.chain import ChainError, ContractError
from zkpot.node.outcomes import Outcome, OutcomeKind, Skipped
from zkpot.node.work import FAIL_LIMIT, Node

log = logging.getLogger("zkpot.worker")

# transport trouble (RPC or storage unreachable) is retried with backoff; a revert is not
RETRYABLE = (ChainError, ConnectionError, TimeoutError, OSError, redis.ConnectionError)
RETRY = dict(acks_late=True, autoretry_for=RETRYABLE, dont_autoretry_for=(ContractError,),
             retry_backoff=2, retry_backoff_max=60, retry_jitter=True, max_retries=20)


# how an operator reads a skipped step in the log: "job 3 stage 1 not trained: …"
PAST = {"train": "trained", "declare": "declared", "reveal": "revealed", "settle": "settled",
        "prove": "proven", "submit": "submitted"}


def step_key(slug: str, kind: str, job_id: int, stage: int = 0, attempt: int = 0) -> str:
    """The enqueue key of one step (the watcher enqueues a step once while it is pending)."""
    return f"{slug}:{kind}:{job_id}:{stage}:{attempt}"


def run_step(kind: str, job_id: int, stage: int, action: Callable[[Node], Outcome],
             attempt: int = 0) -> Outcome:
    """Run a node step and log its outcome in one line.

    A skip is logged and remembered by the step; transport trouble is counted as an outage
    and retried by the task; any other failure is logged (with its traceback the first time,
    in one line after), the watcher enqueues the step again, and after ``FAIL_LIMIT`` failures
    in a row with the same reason the step is given up: the watcher no longer enqueues it and
    ``zkpot node status`` shows why."""
    node = current_node()
    role = os.environ.get("ZKPOT_WORKER_ROLE", "worker")
    node.store.put(f"doing:{role}", json.dumps({"step": kind, "job": job_id, "stage": stage,
                                                 "attempt": attempt, "since": int(time.time())}))
    try:
        outcome = action(node)
    except Skipped as why:
        log.warning("job %s stage %s not %s: %s", job_id, stage, PAST[kind], why)
        node.store.bump("count:skipped")
        return Outcome(OutcomeKind.SKIPPED, str(why))
    except RETRYABLE as exc:
        (REDIS if isinstance(exc, redis.ConnectionError) else CHAIN).failed(str(exc))
        raise  # the task retries with backoff
    except Exception as exc:  # noqa: BLE001 - recorded, counted, given up after FAIL_LIMIT
        reason = f"{type(exc).__name__}: {exc}"
        count = node.record_failure(kind, job_id, stage, reason)
        node.store.bump("count:failures")
        if node.given_up(kind, job_id, stage):  # the core's rule (Node.record_failure) decides
            log.warning("job %s stage %s %s failed %s times the same way: %s; given up (see "
                        "`zkpot node status`)", job_id, stage, kind, count, reason)
            return Outcome(OutcomeKind.FAILED, reason)
        if count == 1:
            log.exception("job %s stage %s %s failed: %s", job_id, stage, kind, reason)
        else:
            log.warning("job %s stage %s %s failed again the same way (%s of %s): %s", job_id,
                        stage, kind, count, FAIL_LIMIT, reason)
        # not raised: the watcher enqueues the step again (its key is released below)
        return Outcome(OutcomeKind.ERROR, reason)
    finally:
        node.store.delete(f"doing:{role}")
        _release(node, kind, job_id, stage, attempt)
    CHAIN.recovered()
    node.record_success(kind, job_id, stage)
    node.store.bump(f"count:{kind}:{outcome.kind.value}")
    log.info("job %s stage %s %s: %s", job_id, stage, kind, outcome)
    return outcome


def hand_on(task, args: tuple, queue: str) -> None:
    """Enqueue the next step at once; with Redis down, leave it to the watcher, which derives
    it from the chain and the node store once Redis is back."""
    try:
        task.apply_async(args=args, queue=queue, retry=False)
    except (OperationalError, redis.RedisError) as exc:
        REDIS.failed(str(exc))


def _release(node: Node, kind: str, job_id: int, stage: int, attempt: int) -> None:
    try:
        done(step_key(node.identity.slug, kind, job_id, stage, attempt))
    except redis.RedisError as exc:
        REDIS.failed(str(exc))  # the key expires by itself; the watcher enqueues again then


@task_retry.connect
def _count_retry(request=None, reason=None, **_):
    try:
        current_node().store.bump("count:retries")
    except Exception:  # noqa: BLE001 - a counter must never break a retry
        pass
