"""Quiet outages: a dependency that is down (Redis, the RPC) is logged three ways only.

One line when the outage starts, a summary every ``SUMMARY_EVERY`` seconds while it lasts, and
one line when it ends; the retries in between (Celery's consumer and beat reconnecting, kombu's
publish retries, the watcher's next tick) are counted, not logged, and retried-by-design
conditions never print a traceback. Everything else is logged as before.
"""

from __future__ import annotations

import logging
import re
import threading
import time

log = logging.getLogger("zkpot.worker")

SUMMARY_EVERY = 30.0   # seconds between summaries while an outage lasts
# an outage with no failure seen for this long has ended (for processes that never log a
# reconnection, such as the beat): longer than kombu's longest reconnect interval (30 s)
END_AFTER = 35.0

# what Celery, kombu and redis-py log while the broker is down
_REDIS_TEXT = re.compile(r"redis|broker|Connection refused|Error 111|Error 104|Connection reset|"
                         r"Connection closed by server|Trying again in", re.IGNORECASE)


class Outage:
    """One dependency's outage in this process."""

    def __init__(self, name: str):
        self.name = name
        self.since: float | None = None
        self.last_failure = 0.0
        self.last_summary = 0.0
        self.failures = 0
        self.reason = ""
        self._lock = threading.Lock()
        self._timer: threading.Thread | None = None

    @property
    def active(self) -> bool:
        return self.since is not None

    def failed(self, reason: str) -> None:
        """A failure of the dependency: the first is logged, the rest are counted."""
        now = time.monotonic()
        with self._lock:
            self.failures += 1
            self.last_failure = now
            self.reason = _short(reason)
            if self.since is None:
                self.since = self.last_summary = now
                self.failures = 1
                _emit(logging.WARNING, f"{self.name} unreachable: {self.reason}; retrying quietly "
                                       f"(a summary every {SUMMARY_EVERY:.0f} s)")
                self._watch_for_end()
            elif now - self.last_summary >= SUMMARY_EVERY:
                self.last_summary = now
                _emit(logging.WARNING, f"{self.name} still unreachable after {now - self.since:.0f} s "
                                       f"({self.failures} failed tries): {self.reason}")

    def recovered(self) -> None:
        """The dependency answered again: the end of the outage is logged once."""
        with self._lock:
            if self.since is None:
                return
            took = time.monotonic() - self.since
            _emit(logging.WARNING, f"{self.name} reachable again after {took:.0f} s "
                                   f"({self.failures} failed tries)")
            self.since = None
            self.failures = 0

    def _watch_for_end(self) -> None:
        if self._timer is not None and self._timer.is_alive():
            return

        def watch() -> None:
            while self.since is not None:
                time.sleep(1.0)
                if self.since is not None and time.monotonic() - self.last_failure >= END_AFTER:
                    self.recovered()

        self._timer = threading.Thread(target=watch, daemon=True, name=f"outage-{self.name}")
        self._timer.start()


REDIS = Outage("redis")
CHAIN = Outage("chain RPC or storage")


def _short(reason: str) -> str:
    line = str(reason).strip().splitlines()[0] if str(reason).strip() else "no answer"
    return line[:200]


def _emit(level: int, message: str) -> None:
    log.log(level, message, extra={"zkpot_outage": True})


def is_redis_failure(record: logging.LogRecord) -> bool:
    """Whether a log record is Celery/kombu/redis-py retrying the broker or result backend."""
    if getattr(record, "zkpot_outage", False):
        return False
    if record.exc_info and record.exc_info[1] is not None:
        exc = record.exc_info[1]
        names = {c.__module__.split(".")[0] for c in type(exc).__mro__}
        if names & {"redis", "kombu"} or isinstance(exc, (ConnectionError, OSError)):
            return bool(_REDIS_TEXT.search(f"{exc!r} {record.getMessage()}")) or bool(names & {"redis"})
    if record.name.startswith(("celery.worker.consumer", "celery.beat", "kombu", "celery.backends",
                               "celery.app.trace", "celery.worker.request")) \
            or record.name in ("celery", "celery.redirected"):
        return record.levelno >= logging.WARNING and bool(_REDIS_TEXT.search(record.getMessage()))
    return False


# loggers of the broker's machinery: silent while an outage is being counted
_MACHINERY = ("celery", "kombu", "redis", "py.warnings", "amqp")


class QuietOutages(logging.Filter):
    """A handler filter: outage noise becomes ``REDIS`` counts; reconnection ends the outage.

    While an outage lasts, the broker machinery's own lines (reconnect attempts, "Restoring
    unacknowledged messages", deprecation warnings printed on connection loss) are dropped;
    zkpot's own lines pass. The beat's per-tick "Sending due task" line is dropped always (it
    is how the beat's process sees Redis answer again: a tick that follows a tick without a
    failure)."""

    def __init__(self) -> None:
        super().__init__()
        self.last_tick = 0.0

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "zkpot_outage", False):
            return True
        message = record.getMessage()
        if record.name.startswith("celery.beat") and message.startswith("Scheduler: Sending due task"):
            now = time.monotonic()
            if REDIS.active and REDIS.last_failure < self.last_tick:
                REDIS.recovered()
            self.last_tick = now
            return False
        if REDIS.active and record.name.startswith("celery.worker.consumer") \
                and message.startswith("Connected to"):
            REDIS.recovered()
            return False
        if is_redis_failure(record):
            REDIS.failed(message if not record.exc_info else repr(record.exc_info[1]))
            return False
        if REDIS.active and record.name.startswith(_MACHINERY) and record.levelno < logging.CRITICAL:
            return False
        return True
