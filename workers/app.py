"""The Celery app: broker and result backend from settings, safe delivery, the watcher's beat.

Task modules live in ``workers.tasks``; this module only configures. Delivery is at least
once (``acks_late``; a message whose worker died is redelivered) and every task is idempotent
against chain state, so a redelivered or duplicated task does no harm.
"""

from __future__ import annotations

import warnings

from celery import Celery
from celery.exceptions import CPendingDeprecationWarning

from zkpot.config import get_settings
from zkpot.node.identity import IdentityError
from workers import logs  # noqa: F401 - quiet outages, JSON lines: on every worker's handlers
from workers.queues import NodeQueues, node_slug

# how often the node reads new chain events and reconciles its work (seconds)
WATCH_INTERVAL = 2.0

# printed on every broker connection loss; the behaviour it announces is set below
warnings.filterwarnings("ignore", category=CPendingDeprecationWarning)

settings = get_settings()
app = Celery("zkpot", include=["workers.tasks.watch", "workers.tasks.stages",
                               "workers.tasks.proofs", "workers.tasks.payments"])
app.conf.update(
    broker_url=settings.redis_url,
    result_backend=settings.redis_url,
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    task_acks_late=True,               # ack after the task ran: a killed worker's task comes back
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,      # a long training task must not hold others hostage
    result_expires=3600,
    # results are not read (steps are idempotent against the chain; the watcher re-derives
    # them): writing them would only fail during a Redis outage. `withdraw` keeps its result.
    task_ignore_result=True,
    # a long training task keeps running when the broker goes away; its late ack is lost with
    # the connection and the message is redelivered (the step is idempotent)
    worker_cancel_long_running_tasks_on_connection_loss=False,
    broker_connection_retry_on_startup=True,
    broker_connection_max_retries=None,  # Redis restarted: keep trying, then resume
    broker_transport_options={"visibility_timeout": 600},
    worker_hijack_root_logger=False,
    worker_log_format="%(asctime)s %(levelname)s %(processName)s %(message)s",
    worker_task_log_format="%(asctime)s %(levelname)s %(task_name)s %(message)s",
)

try:
    queues: NodeQueues | None = NodeQueues(node_slug(settings))
except IdentityError:
    queues = None  # a process without a node key (e.g. `zkpot node init`) sends nothing

if queues is not None:
    app.conf.task_default_queue = queues.chain
    app.conf.beat_schedule = {
        "watch-chain": {
            "task": "workers.tasks.watch.watch_chain",
            "schedule": WATCH_INTERVAL,
            "options": {"queue": queues.chain, "expires": WATCH_INTERVAL * 5},
        },
    }
