"""`zkpot node run` under a supervisor: SIGTERM stops it and every worker it started, with no
task lost; a second run for the same identity refuses; health and metrics answer on loopback.

The node runs through the worker container's entrypoint (``docker/node-entrypoint.sh``), as
``docker stop`` would signal it; every process is found and checked by its own pid.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import urllib.error
import urllib.request

import psutil
import pytest

from tests.workers.conftest import KEYS, wait_for, wait_for_stages
from tests.workers.jobs import create_tiny_job
from zkpot.config import PROJECT_ROOT
from zkpot.devnet import Redis, free_port

pytestmark = pytest.mark.slow

ENTRYPOINT = PROJECT_ROOT / "docker" / "node-entrypoint.sh"


def node_env(world, index: int, **extra: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT), COLUMNS="200",
               PATH=f"{PROJECT_ROOT / '.venv' / 'bin'}:{os.environ['PATH']}",
               **{f"ZKPOT_{k.upper()}": str(v) for k, v in world.env(index).items()})
    env.update(extra)
    return env


def start_run(world, index: int, log, **extra: str) -> subprocess.Popen:
    return subprocess.Popen([str(ENTRYPOINT), "--slots", "1", "--device", "cpu"],
                            env=node_env(world, index, **extra), cwd=PROJECT_ROOT, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)


def workers_of(proc: subprocess.Popen) -> list[psutil.Process]:
    return psutil.Process(proc.pid).children(recursive=True)


def gone(p: psutil.Process) -> bool:
    try:
        return p.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_sigterm_stops_every_worker_and_no_task_is_lost(world, start_node, tmp_path):
    start_node(1, workers=False)                      # registered, with the minimum stake
    port = free_port()
    out = open(tmp_path / "run.out", "wb")
    run = start_run(world, 1, out, ZKPOT_NODE_METRICS_PORT=str(port))
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: _answers(base) and get(base + "/healthz")[0] == 200, 120,
                 "the node's health endpoint to say ok", logs=[tmp_path / "run.out"])
        health = json.loads(get(base + "/healthz")[1])
        assert health["status"] == "ok" and set(health["workers"]) == {"chain", "compute0", "prove"}

        # a second run for the same identity refuses, and starts nothing
        second = subprocess.run([str(ENTRYPOINT)], env=node_env(world, 1), cwd=PROJECT_ROOT,
                                capture_output=True, text=True, timeout=120)
        assert second.returncode == 1
        assert "already running" in second.stdout + second.stderr
        assert f"pid {run.pid}" in second.stdout + second.stderr

        job = create_tiny_job(world.rpc_url, KEYS[0], world.deployment, world.store, stages=2,
                              confirmations=1, samples_per_stage=1500)
        node = world.settings(1)
        from zkpot.node.work import Node

        store = Node(node).store
        wait_for(lambda: any(p.kind == "train" for p in store.progress()), 120,
                 "the node training stage 1", every=0.05, logs=[tmp_path / "run.out"])
        workers = workers_of(run)
        assert len(workers) >= 3                      # chain (+ its beat), compute0, prove
        run.send_signal(signal.SIGTERM)               # what `docker stop` sends to PID 1
        assert run.wait(timeout=120) == 0
        assert all(gone(p) for p in workers), [p.pid for p in workers if not gone(p)]
        text = (tmp_path / "run.out").read_text(errors="replace")
        assert "stopping workers (SIGTERM" in text and "node stopped" in text

        # the task in flight was finished or handed back: a new run completes the job
        run = start_run(world, 1, out, ZKPOT_NODE_METRICS_PORT=str(port))
        wait_for_stages(world, job, 2, declarers=1, timeout=400, logs=[tmp_path / "run.out"])
        wait_for(lambda: b"zkpot_node_declarations_total 1.0" in get(base + "/metrics")[1]
                 or b"zkpot_node_declarations_total 2.0" in get(base + "/metrics")[1], 60,
                 "the declarations counted in the metrics")
        metrics = get(base + "/metrics")[1].decode()
        assert "zkpot_node_stages_trained_total" in metrics
        assert 'zkpot_node_worker_up{role="compute0"} 1.0' in metrics
        assert "zkpot_node_queue_depth" in metrics
        run.send_signal(signal.SIGINT)                # Ctrl-C stops it the same way
        workers = workers_of(run)
        assert run.wait(timeout=120) == 0
        assert all(gone(p) for p in workers)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()


def _answers(base: str) -> bool:
    try:
        get(base + "/healthz")
        return True
    except OSError:
        return False


def test_workers_die_with_a_killed_node_run(world, start_node, tmp_path):
    """Even SIGKILL of `zkpot node run` (no handler runs) leaves no worker behind."""
    start_node(2, workers=False)
    out = open(tmp_path / "run.out", "wb")
    run = start_run(world, 2, out, ZKPOT_NODE_METRICS_PORT="0")
    workers: list[psutil.Process] = []
    try:
        wait_for(lambda: len(workers_of(run)) >= 2 and "running on" in
                 (tmp_path / "run.out").read_text(errors="replace"), 120, "the node's workers")
        workers = workers_of(run)
        run.send_signal(signal.SIGKILL)
        run.wait()
        wait_for(lambda: all(gone(p) for p in workers), 120, "the orphaned workers to stop")
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
        for p in workers:                             # each worker leads its own group
            if not gone(p):
                os.killpg(p.pid, signal.SIGKILL)


@pytest.mark.parametrize("broken", ["db", "port"])
def test_a_node_whose_redis_is_unusable_refuses_to_start(world, start_node, tmp_path, broken):
    """A db past the server's last one, or no server at all: `node run` names the broker and
    exits 1 before any worker starts (a worker on it would wait forever for tasks)."""
    start_node(1, workers=False)
    base = world.redis_url.rsplit("/", 1)[0]
    url = f"{base}/{Redis.DATABASES + 7}" if broken == "db" else f"redis://127.0.0.1:{free_port()}/0"
    out = tmp_path / "run.out"
    with open(out, "wb") as log:
        run = start_run(world, 1, log, ZKPOT_REDIS_URL=url, ZKPOT_NODE_METRICS_PORT="0")
        try:
            assert run.wait(timeout=120) == 1
        finally:
            if run.poll() is None:
                os.killpg(run.pid, signal.SIGKILL)
                run.wait()
    text = out.read_text(errors="replace")
    assert "Redis (ZKPOT_REDIS_URL) is not usable" in text and url in text
    assert ("DB index is out of range" in text) if broken == "db" else ("Connection" in text or "connect" in text)
    assert "running on" not in text
