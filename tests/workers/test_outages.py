"""Quiet recovery: Redis stopped and started again mid-stage costs a handful of log lines (one
when the outage starts, one when it ends, per worker process) and no traceback, and the stage
completes; a stage that fails the same way every time is given up with its reason."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import pytest

from tests.api.apiprocess import ApiProcess
from tests.workers.conftest import KEYS, node_logs, wait_for, wait_for_stages
from tests.workers.jobs import create_tiny_job
from zkpot.config import PROJECT_ROOT, Settings
from zkpot.devnet import Redis
from zkpot.node.work import FAIL_LIMIT

pytestmark = pytest.mark.slow

# one line when the outage starts and one when it ends, for each of the node's three processes
# (chain worker, its beat, compute worker), and a few to spare for a summary
HANDFUL = 10


def sizes(paths) -> dict:
    return {p: p.stat().st_size if p.exists() else 0 for p in paths}


def written_since(before: dict) -> list[str]:
    lines = []
    for p, size in before.items():
        with open(p, "rb") as f:
            f.seek(size)
            lines += f.read().decode(errors="replace").splitlines()
    return lines


def test_redis_stopped_mid_stage_logs_a_handful_of_lines_and_the_stage_completes(world, start_node,
                                                                                 tmp_path):
    own = Redis(log_dir=tmp_path).start()
    world.redis_url = own.url
    try:
        a = start_node(1)
        job = create_tiny_job(world.rpc_url, KEYS[0], world.deployment, world.store, stages=3,
                              confirmations=1, samples_per_stage=1500)
        wait_for_stages(world, job, 1, declarers=1, timeout=300, logs=node_logs(a))
        wait_for(lambda: any(p.kind == "train" and p.name == f"job{job.job_id}-stage2"
                             for p in a.node.store.progress()), 120, "stage 2 training",
                 every=0.05, logs=node_logs(a))
        before = sizes(node_logs(a))
        own.stop()          # no persistence: every queued message is lost
        time.sleep(15)
        during = written_since(before)
        own.start()
        wait_for_stages(world, job, 3, declarers=1, timeout=400, logs=node_logs(a))
        # the outage's end is logged once Celery reconnects (or the quiet period passes)
        wait_for(lambda: any("reachable again" in line for line in written_since(before)), 90,
                 "the end of the outage in the log", logs=node_logs(a))
        after = written_since(before)
    finally:
        own.stop()
    outage = [line for line in after if "redis" in line.lower() or "broker" in line.lower()
              or "Traceback" in line or "Error" in line]
    assert len(during) <= HANDFUL, "\n".join(during)
    assert len(outage) <= HANDFUL, "\n".join(outage)
    assert not [line for line in after if "Traceback" in line], "\n".join(after)
    assert any("redis unreachable" in line for line in during), "\n".join(during)


def test_a_stage_that_fails_the_same_way_is_given_up_with_its_reason(world, start_node, tmp_path):
    # the gateway as deployments run it: the node tells it, the job's page shows it
    api = ApiProcess(Settings.from_env(environ={}, **{**world.env(0), "state_dir": str(tmp_path / "api"),
                                                      "node_key": None}), tmp_path / "api.log").start()
    world.report_url = api.url
    try:
        _given_up_and_reported(world, start_node, api)
    finally:
        if api.terminate() is None:
            api.stop()


def _given_up_and_reported(world, start_node, api):
    a = start_node(1)
    # stage 1's chunk has 5 features for a 4-input model: its CID matches, the stage function
    # refuses it, the same way every time
    job = create_tiny_job(world.rpc_url, KEYS[0], world.deployment, world.store, stages=1,
                          confirmations=1, wrong_width_chunk=1)
    reason = wait_for(lambda: a.node.given_up("train", job.job_id, 1), 200,
                      "the node to give the stage up", logs=node_logs(a))
    refusal = "in_features=4 but its input has 5 features"
    assert f"{FAIL_LIMIT} times" in reason and refusal in reason
    log_file = a.group.log_dir / f"node-{a.node.identity.slug[:10]}-compute0.log"
    wait_for(lambda: "given up" in log_file.read_text(errors="replace"), 60, "the give-up line")
    # the watcher no longer enqueues it: several ticks later it failed FAIL_LIMIT times only
    time.sleep(10)
    text = log_file.read_text(errors="replace")
    assert text.count(refusal) >= FAIL_LIMIT
    assert text.count("train failed:") == 1 and text.count("Traceback") == 1
    assert a.node.store.get(f"failing:train:{job.job_id}:1").startswith(f"{FAIL_LIMIT} ")
    # the operator reads it in `zkpot node status`
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT), COLUMNS="300",
               **{f"ZKPOT_{k.upper()}": str(v) for k, v in world.env(1).items()})
    done = subprocess.run([sys.executable, "-m", "cli", "node", "status"], env=env,
                          text=True, capture_output=True, timeout=120, cwd=PROJECT_ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"failed, not retried: job {job.job_id} stage 1 train: {FAIL_LIMIT} times: RuntimeError" \
        in done.stdout
    assert "last error" in done.stdout
    # and the employer reads it on the job's page, signed by the node
    shown = wait_for(lambda: httpx.get(f"{api.url}/api/jobs/{job.job_id}").json().get("given_up"), 120,
                     "the given-up report on the job's page", logs=node_logs(a))
    assert [(g["node"], g["kind"], g["stage"]) for g in shown] == [(a.node.identity.address, "train", 1)]
    assert refusal in shown[0]["reason"]
    assert a.node.store.get(f"reported:train:{job.job_id}:1").endswith("taken")
