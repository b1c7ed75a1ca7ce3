"""The worker processes' log handlers: quiet outages always, JSON lines on request.

``ZKPOT_LOG_FORMAT=json`` (or ``zkpot node run --log-format json``) writes one JSON object a
line (``ts``, ``level``, ``logger``, ``process``, ``message``, ``exc`` when there is one), for a
log shipper; the default is readable text.
"""

from __future__ import annotations

import json
import logging
import time
import warnings

from celery.exceptions import CPendingDeprecationWarning
from celery.signals import after_setup_logger, after_setup_task_logger

from workers.quiet import QuietOutages
from zkpot.config import get_settings


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {"ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
               + f".{int(record.msecs):03d}Z",
               "level": record.levelname.lower(), "logger": record.name,
               "process": record.processName, "message": record.getMessage()}
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def configure(logger: logging.Logger) -> None:
    """Put the outage filter (and the JSON format, if asked for) on every handler."""
    # Celery turns its deprecation warnings on while it sets logging up; this one is printed on
    # every broker connection loss, and the behaviour it announces is configured in workers.app
    warnings.filterwarnings("ignore", category=CPendingDeprecationWarning)
    # a line per task received and succeeded (the watcher's every 2 s) is not news: the steps
    # log their own outcome; failures still come through at WARNING and above
    for name in ("celery.app.trace", "celery.worker.strategy"):
        logging.getLogger(name).setLevel(logging.WARNING)
    targets = [logging.getLogger()] + [logger]
    json_lines = get_settings().log_format == "json"
    for target in targets:
        for handler in target.handlers:
            if not any(isinstance(f, QuietOutages) for f in handler.filters):
                handler.addFilter(QuietOutages())
            if json_lines:
                handler.setFormatter(JsonFormatter())


@after_setup_logger.connect
def _root(logger=None, **_):
    configure(logger)


@after_setup_task_logger.connect
def _tasks(logger=None, **_):
    configure(logger)
