"""Withdraw the node's credit (rewards, released stake) on the node's chain queue."""

from __future__ import annotations

import logging

from celery import shared_task

from workers.node import current_node
from zkpot.chain import ChainError, ContractError

log = logging.getLogger("zkpot.worker")

RETRYABLE = (ChainError, ConnectionError, TimeoutError, OSError)


@shared_task(bind=True, acks_late=True, autoretry_for=RETRYABLE,
             dont_autoretry_for=(ContractError,), retry_backoff=2,
             retry_backoff_max=60, max_retries=10)
def withdraw(self) -> str:
    """Withdraw everything credited to this node; a no-op when nothing is credited."""
    outcome = current_node().withdraw()
    log.info("withdraw: %s", outcome)
    return outcome
