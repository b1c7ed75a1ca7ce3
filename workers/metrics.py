"""The node's health endpoint and Prometheus metrics, served by ``zkpot node run`` on loopback.

``GET /healthz``: JSON ``{"status": "ok" | "degraded", "workers": {role: alive}, "redis": …,
"watched_s_ago": …}``, 200 when every worker is alive, Redis answers and the watcher ran in
the last ``WATCH_STALE_S``, else 503. ``GET /metrics``: the Prometheus text format
(``prometheus_client``). Counters are kept in the node store, which every worker process of
the node writes, so the numbers survive a worker's restart; chain figures (earnings, stake) are
read in the background, never while a scrape waits.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

import redis
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import CollectorRegistry

log = logging.getLogger("zkpot.node")

WATCH_STALE_S = 30.0   # the watcher ticks every 2 s: this long without a tick is unhealthy
CHAIN_REFRESH_S = 15.0


class NodeCollector:
    """Reads the node store, the queues and the last chain figures at scrape time."""

    def __init__(self, node, queues: list[str], redis_url: str, workers: Callable[[], dict[str, bool]]):
        self.node = node
        self.queues = queues
        self.redis = redis.Redis.from_url(redis_url, socket_connect_timeout=1, socket_timeout=1)
        self.workers = workers
        self.chain_figures: dict[str, int] = {}
        self.chain_read_at = 0.0

    def collect(self):
        counts = {k.removeprefix("count:"): int(v) for k, v in self.node.store.items("count:").items()}
        steps = CounterMetricFamily("zkpot_node_steps", "node steps run, by kind and outcome",
                                    labels=["step", "outcome"])
        for key, value in sorted(counts.items()):
            if key.count(":") == 1:
                step, outcome = key.split(":")
                steps.add_metric([step, outcome], value)
        yield steps
        for name, what in (("stages_trained", ("train", "done")), ("declarations", ("declare", "done")),
                           ("reveals", ("reveal", "done")), ("proofs", ("prove", "done")),
                           ("proofs_submitted", ("submit", "done"))):
            yield CounterMetricFamily(f"zkpot_node_{name}", f"{name.replace('_', ' ')} by this node",
                                      value=counts.get(":".join(what), 0))
        yield CounterMetricFamily("zkpot_node_failures", "node steps that failed (not transport trouble)",
                                  value=counts.get("failures", 0))
        yield CounterMetricFamily("zkpot_node_retries", "node steps retried after transport trouble",
                                  value=counts.get("retries", 0))
        yield CounterMetricFamily("zkpot_node_skipped", "node steps skipped for bad inputs",
                                  value=counts.get("skipped", 0))
        yield GaugeMetricFamily("zkpot_node_steps_given_up", "steps given up after failing the same way",
                                value=len(self.node.store.items("failed:")))
        depth = GaugeMetricFamily("zkpot_node_queue_depth", "messages waiting in the node's queues",
                                  labels=["queue"])
        for q in self.queues:
            try:
                depth.add_metric([q], self.redis.llen(q))
            except redis.RedisError:
                pass
        yield depth
        alive = GaugeMetricFamily("zkpot_node_worker_up", "1 when the worker process runs", labels=["role"])
        for role, ok in self.workers().items():
            alive.add_metric([role], 1 if ok else 0)
        yield alive
        for name, value in self.chain_figures.items():
            yield GaugeMetricFamily(f"zkpot_node_{name}_wei", f"{name.replace('_', ' ')} (wei), from the chain",
                                    value=value)

    def refresh_chain(self) -> None:
        """Earnings and stake from the chain (a background thread calls this)."""
        chain = self.node.chain
        earned = chain.earnings()
        me = chain.registry.node_of(self.node.identity.address)
        self.chain_figures = {"earned_rewards": earned.rewards, "earned_bounties": earned.bounties,
                              "slashed": earned.slashed, "credit": chain.credit(), "stake": me.stake,
                              "stake_locked": me.locked}
        self.chain_read_at = time.time()

    def health(self) -> tuple[bool, dict]:
        workers = self.workers()
        try:
            redis_ok = bool(self.redis.ping())
        except redis.RedisError:
            redis_ok = False
        watched = self.node.store.get("watched_at")
        ago = None if watched is None else round(time.time() - int(watched), 1)
        ok = all(workers.values()) and redis_ok and ago is not None and ago < WATCH_STALE_S
        return ok, {"status": "ok" if ok else "degraded", "node": self.node.identity.address,
                    "workers": workers, "redis": redis_ok, "watched_s_ago": ago,
                    "last_error": self.node.store.get("last_error")}


class NodeEndpoint:
    """``/healthz`` and ``/metrics`` on ``host:port`` in a daemon thread."""

    def __init__(self, collector: NodeCollector, host: str, port: int):
        self.collector = collector
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(collector)
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                if self.path == "/metrics":
                    body, ctype, code = generate_latest(endpoint.registry), CONTENT_TYPE_LATEST, 200
                elif self.path in ("/healthz", "/health"):
                    ok, doc = endpoint.collector.health()
                    body, ctype, code = json.dumps(doc).encode(), "application/json", 200 if ok else 503
                else:
                    body, ctype, code = b"not found\n", "text/plain", 404
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):  # scrapes are not news
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.stopped = threading.Event()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "NodeEndpoint":
        threading.Thread(target=self.server.serve_forever, daemon=True, name="node-endpoint").start()
        threading.Thread(target=self._chain_loop, daemon=True, name="node-chain-figures").start()
        return self

    def _chain_loop(self) -> None:
        while not self.stopped.is_set():
            try:
                self.collector.refresh_chain()
            except Exception as exc:  # noqa: BLE001 - the figures stay as last read
                log.debug("chain figures not refreshed: %s", exc)
            self.stopped.wait(CHAIN_REFRESH_S)

    def stop(self) -> None:
        self.stopped.set()
        self.server.shutdown()
        self.server.server_close()
