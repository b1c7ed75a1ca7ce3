"""The worker process's node: one identity per process group, built once per process."""

from __future__ import annotations

import logging
import os
from functools import lru_cache

from celery.signals import worker_ready

from zkpot.config import get_settings
from zkpot.node.work import Node

log = logging.getLogger("zkpot.worker")


@lru_cache(maxsize=1)
def current_node() -> Node:
    return Node(get_settings(), device=worker_device())


def worker_device() -> str:
    """The device this process trains on (set by the process group), ``cpu`` by default."""
    return os.environ.get("ZKPOT_WORKER_DEVICE", "cpu")


@worker_ready.connect
def _announce(sender=None, **_):
    node = current_node()
    role = os.environ.get("ZKPOT_WORKER_ROLE", "worker")
    if role.startswith("compute"):
        # the watcher routes training to the queue of the device this node's trainers use
        node.store.put("train_device", worker_device())
    log.info("node %s %s worker ready", node.identity.short, role)
