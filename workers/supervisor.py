"""``zkpot node run`` as a supervisor expects: one instance per identity, clean stops, health.

- **One instance per identity.** A lock file in the node's state folder (``run.lock``, an
  ``flock`` held while the node runs, with its pid) makes a second ``zkpot node run`` for the
  same identity refuse at once, naming the running one's pid. The kernel drops the lock with
  the process, so a crash never leaves it stale.
- **Clean stops.** SIGTERM (``docker stop``, systemd) and SIGINT (Ctrl-C) stop the node: every
  worker gets a warm shutdown and ``node_stop_grace_s`` (default 30 s) to finish the task in
  flight; one still busy then is cold-shut (its unacked task goes back to the queue) and
  killed 5 s later (``workers.group``). Workers die with their parent even if it is SIGKILLed
  (``PR_SET_PDEATHSIG``), so none is left re-parented to init.
- **Restarts.** A worker that dies is started again within a second.
- **Health and metrics** on loopback (``workers.metrics``).
"""

from __future__ import annotations

import fcntl
import os
import signal
import threading
from pathlib import Path
from typing import Callable

from workers.group import WorkerGroup
from workers.metrics import NodeCollector, NodeEndpoint
from workers.queues import NodeQueues


class AlreadyRunning(Exception):
    """Another ``zkpot node run`` holds this identity."""


class BrokerUnusable(Exception):
    """The node's Redis cannot be reached or refuses its db: no worker could take a task."""


def check_broker(url: str) -> None:
    """Ping the node's Redis (its db included) once, before any worker starts on it."""
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5)
        try:
            client.ping()
        finally:
            client.close()
    except (redis.RedisError, ValueError) as exc:
        raise BrokerUnusable(f"{redact_url(url)}: {exc}") from None


def redact_url(url: str) -> str:
    """``url`` without a password, for messages."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]))


class RunLock:
    """An exclusive, crash-safe lock on one node identity's state folder."""

    def __init__(self, folder: Path):
        self.path = folder / "run.lock"
        self._fd: int | None = None

    def acquire(self) -> "RunLock":
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise AlreadyRunning(f"pid {holder}") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)   # closing drops the flock
            self._fd = None


class NodeRun:
    """The node's process group under one lock, stopped by SIGTERM or SIGINT."""

    def __init__(self, node, settings, env: dict[str, str], device: str, slots: int,
                 metrics_port: int | None = None):
        self.node = node
        self.settings = settings
        self.queues = NodeQueues(node.identity.slug)
        self.group = WorkerGroup(self.queues, settings.path("logs"), env=env, device=device,
                                 compute_slots=slots)
        self.lock = RunLock(node.store.folder)
        self.stop_requested = threading.Event()
        self.endpoint: NodeEndpoint | None = None
        self.metrics_port = settings.node_metrics_port if metrics_port is None else metrics_port
        self.stopped_by: str | None = None

    def start(self) -> "NodeRun":
        self.lock.acquire()          # AlreadyRunning before anything is started
        try:
            check_broker(self.settings.redis_url)
        except BrokerUnusable:
            self.lock.release()
            raise
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        self.group.start()
        if self.metrics_port:
            queues = [self.queues.chain, self.queues.prove, self.queues.train("cpu"),
                      self.queues.train("gpu")]
            collector = NodeCollector(self.node, queues, self.settings.redis_url, self.group.alive)
            self.endpoint = NodeEndpoint(collector, self.settings.node_metrics_host,
                                         self.metrics_port).start()
        return self

    def _on_signal(self, signum, _frame) -> None:
        self.stopped_by = signal.Signals(signum).name
        self.stop_requested.set()

    def supervise(self, tick: Callable[[], None] = lambda: None,
                  on_restart: Callable[[list[str]], None] = lambda roles: None) -> None:
        """Restart dead workers and call ``tick`` every second until a stop is requested."""
        while not self.stop_requested.is_set():
            dead = [role for role, ok in self.group.alive().items() if not ok]
            if dead:
                on_restart(dead)
                for role in dead:
                    self.group.procs.pop(role)
                self.group.start()
            tick()
            self.stop_requested.wait(1.0)

    def stop(self) -> None:
        """Stop the workers within the grace period, then the endpoint, then drop the lock."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_IGN)   # a second signal must not cut the stop short
        try:
            self.group.stop(grace=self.settings.node_stop_grace_s)
        finally:
            if self.endpoint is not None:
                self.endpoint.stop()
            self.lock.release()
