"""How a node delivers its given-up reports to a real gateway (uvicorn, real Anvil and Redis):
each report has its own tries, one the gateway cannot take yet holds up no other, a report
refused for good is not resent, and one never takeable is dropped after ``MAX_TRIES``."""

from __future__ import annotations

import httpx
import pytest

from tests.api.apiprocess import ApiProcess
from tests.workers.conftest import KEYS, wait_for
from tests.workers.jobs import create_tiny_job
from workers import reports
from zkpot.config import Settings
from zkpot.node.work import FAIL_LIMIT

pytestmark = pytest.mark.slow


def give_up(node, kind: str, job_id: int, stage: int) -> None:
    for _ in range(FAIL_LIMIT):
        node.record_failure(kind, job_id, stage, "RuntimeError: the same way")
    assert node.given_up(kind, job_id, stage)


def test_reports_are_delivered_each_on_its_own_tries(world, start_node, tmp_path, monkeypatch):
    api = ApiProcess(Settings.from_env(environ={}, **{**world.env(0), "state_dir": str(tmp_path / "api"),
                                                      "node_key": None}), tmp_path / "api.log").start()
    try:
        a = start_node(1, workers=False)
        job = create_tiny_job(world.rpc_url, KEYS[0], world.deployment, world.store, stages=1,
                              confirmations=1)
        wait_for(lambda: httpx.get(f"{api.url}/api/jobs/{job.job_id}").status_code == 200, 60,
                 "the gateway to index the job")
        node = a.node
        give_up(node, "declare", job.job_id + 40, 1)      # a job the gateway never knows: 404
        give_up(node, "train", job.job_id, 9)             # a stage the job does not have: 409
        give_up(node, "train", job.job_id, 1)             # a real one
        monkeypatch.setattr(reports, "RETRY_S", 0)
        monkeypatch.setattr(reports, "PER_TICK", 8)
        reports.send_given_up(node, api.url, wait=True)
        shown = httpx.get(f"{api.url}/api/jobs/{job.job_id}").json()["given_up"]
        assert [(g["kind"], g["stage"]) for g in shown] == [("train", 1)]
        assert node.store.get(f"reported:train:{job.job_id}:9").endswith("refused 409")
        assert node.store.get(f"reported:declare:{job.job_id + 40}:1") is None   # tried again
        # the unknown job's report is tried up to MAX_TRIES times, then dropped; nothing is resent
        for _ in range(reports.MAX_TRIES):
            reports.send_given_up(node, api.url, wait=True)
        assert "dropped after" in node.store.get(f"reported:declare:{job.job_id + 40}:1")
        assert node.unreported(0) == []
        assert reports.send_given_up(node, api.url, wait=True) is None
    finally:
        if api.terminate() is None:
            api.stop()


def test_no_gateway_delays_every_report_and_never_blocks_the_caller(world, start_node):
    from zkpot.devnet import free_port

    node = start_node(1, workers=False, register=False).node
    give_up(node, "train", 1, 1)
    thread = reports.send_given_up(node, f"http://127.0.0.1:{free_port()}")
    assert thread is not None            # the caller (the watcher) returned at once
    thread.join(timeout=30)
    assert node.store.get("reported:train:1:1") is None
    assert int(node.store.get("report_next_at")) > 0
    assert node.store.get("report_tries:train:1:1") == "1"
    # within the retry wait, nothing is sent
    assert reports.send_given_up(node, "http://127.0.0.1:9") is None
