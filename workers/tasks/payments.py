"""Withdraw the node's credit (rewards, released stake) on the node's chain queue."""

from __future__ import annotations

import logging

from celery import shared_task

from workers.node import current_node
from workers.tasks.steps import RETRY

log = logging.getLogger("zkpot.worker")


@shared_task(bind=True, ignore_result=False, **RETRY)
def withdraw(self) -> str:
    """Withdraw everything credited to this node; a no-op when nothing is credited."""
    outcome = current_node().withdraw()
    log.info("withdraw: %s", outcome)
    return outcome
