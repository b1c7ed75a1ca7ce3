"""What every node task shares: the retry policy and running one idempotent node step."""

from __future__ import annotations

import logging
from typing import Callable

from workers.dedupe import done
from workers.node import current_node
from zkpot.chain import ChainError, ContractError
from zkpot.node.work import Node, Skipped

log = logging.getLogger("zkpot.worker")

# transport trouble (RPC or storage unreachable) is retried with backoff; a revert is not
RETRYABLE = (ChainError, ConnectionError, TimeoutError, OSError)
RETRY = dict(acks_late=True, autoretry_for=RETRYABLE, dont_autoretry_for=(ContractError,),
             retry_backoff=2, retry_backoff_max=60, retry_jitter=True, max_retries=20)


# how an operator reads a skipped step in the log: "job 3 stage 1 not trained: …"
PAST = {"train": "trained", "declare": "declared", "reveal": "revealed", "settle": "settled",
        "prove": "proven", "submit": "submitted"}


def step_key(slug: str, kind: str, job_id: int, stage: int = 0, attempt: int = 0) -> str:
    """The enqueue key of one step (the watcher enqueues a step once while it is pending)."""
    return f"{slug}:{kind}:{job_id}:{stage}:{attempt}"


def run_step(kind: str, job_id: int, stage: int, action: Callable[[Node], str], attempt: int = 0) -> str:
    """Run a node step; a skip is logged and returned, and the step's enqueue key is released."""
    node = current_node()
    try:
        outcome = action(node)
    except Skipped as why:
        log.warning("job %s stage %s not %s: %s", job_id, stage, PAST[kind], why)
        return f"skipped: {why}"
    finally:
        done(step_key(node.identity.slug, kind, job_id, stage, attempt))
    log.info("job %s stage %s %s: %s", job_id, stage, kind, outcome)
    return outcome
