"""The read side follows real chain events: jobs, declarations, reveals, payments, nodes."""

from __future__ import annotations

import json
import os
import threading

import pytest
from eth_account import Account
from fastapi.testclient import TestClient

from api.main import create_app
from tests.api import chainwork
from tests.api.apiprocess import ApiProcess, event_stream, wait_indexed
from zkpot.hashing import keccak


@pytest.fixture
def deployed(api_settings):
    return chainwork.deploy(api_settings)


@pytest.fixture
def app(api_settings, deployed):
    return create_app(api_settings, follow_chain=False, dashboard_dir=None)


def test_job_stage_declarations_reveal_and_payments_are_indexed(app, api_settings, deployed):
    nodes = chainwork.node_clients(api_settings, deployed, 2)
    chainwork.register(nodes)
    job_id = chainwork.create_job(api_settings, deployed, stages=2, confirmations=2, reward=10**15)
    index = app.state.index
    client = TestClient(app)
    index.poll_once()
    job = client.get(f"/api/jobs/{job_id}").json()
    assert job["status"] == "training" and job["stages_final"] == 0
    assert [s["state"] for s in job["stages"]] == ["waiting", "waiting"]
    assert job["deposit"] == str(2 * 2 * 10**15)

    rho, wh = os.urandom(32), keccak(b"weights after stage 1")
    openings = chainwork.declare_stage(nodes, job_id, 1, wh, rho, "bafkreistageoneweights")
    index.poll_once()
    job = client.get(f"/api/jobs/{job_id}").json()
    s1 = job["stages"][0]
    # two of at most 2C - 1 = 3 declarations: the commit phase is open, nothing copyable shows
    assert s1["state"] == "committing" and job["phase"] == "commit"
    assert {d["node"] for d in s1["declarations"]} == {e.client.address for e, _ in nodes}
    assert all(d["status"] == "committed" and not d["paid"] and d["weights_hash"] is None
               for d in s1["declarations"])
    assert {a["name"] for a in job["actions"]} >= {"declare"} and job["deadlines"]["commit"]

    chainwork.close_commit_phase(api_settings, nodes, job_id)
    index.poll_once()
    assert client.get(f"/api/jobs/{job_id}").json()["phase"] == "reveal"
    chainwork.reveal_stage(api_settings, nodes, job_id, 1, openings)
    index.poll_once()
    job = client.get(f"/api/jobs/{job_id}").json()
    s1 = job["stages"][0]
    assert s1["state"] == "final" and s1["finalised"]["rho"] == "0x" + rho.hex()
    assert s1["finalised"]["weights_cid"] == "bafkreistageoneweights"
    assert sorted(d["position"] for d in s1["declarations"]) == [1, 2]
    assert all(d["status"] == "revealed" and d["weights_hash"] == "0x" + wh.hex() for d in s1["declarations"])
    assert job["stages_final"] == 1 and job["paid"] == "0"     # earned, not settled yet
    for esc, _ in nodes:
        esc.settle(job_id, esc.client.address)
    index.poll_once()
    job = client.get(f"/api/jobs/{job_id}").json()
    assert all(d["status"] == "paid" and d["paid"] for d in job["stages"][0]["declarations"])
    assert job["paid"] == str(2 * 10**15)

    listed = client.get("/api/nodes").json()["items"]
    mine = {n["address"]: n for n in listed}
    for esc, _ in nodes:
        n = mine[esc.client.address]
        assert n["status"] == "active" and int(n["stake"]) > 0
        assert n["declarations"] == 1 and n["stages_paid"] == 1
        assert n["earned"] == str(10**15) and n["pending"] == str(10**15)
    acct = client.get(f"/api/accounts/{nodes[0][0].client.address}").json()
    assert acct["pending"] == str(10**15)
    txs = client.get(f"/api/accounts/{nodes[0][0].client.address}/withdraw-tx").json()
    assert len(txs) == 1 and txs[0]["to"] == deployed.escrow and txs[0]["data"].startswith("0x")


def test_index_rebuild_gives_the_same_view(app, api_settings, deployed):
    job_id = chainwork.create_job(api_settings, deployed)
    index = app.state.index
    index.poll_once()
    client = TestClient(app)
    before = client.get(f"/api/jobs/{job_id}").json()
    index.rebuild()
    assert client.get(f"/api/jobs/{job_id}").json() == before
    assert client.get("/api/status").json()["jobs"] == len(index.jobs) >= 1


def test_unknown_job_is_404_and_bad_ids_422(app):
    client = TestClient(app)
    r = client.get("/api/jobs/999999")
    assert r.status_code == 404 and "no job 999999" in r.json()["detail"]
    assert client.get("/api/jobs/-1").status_code == 422
    assert client.get("/api/accounts/0x123").status_code == 422


def test_reclaim_tx_only_after_the_deadline(app, api_settings, deployed):
    job_id = chainwork.create_job(api_settings, deployed, deadline_s=3600)
    app.state.index.poll_once()
    r = TestClient(app).get(f"/api/jobs/{job_id}/reclaim-tx")
    assert r.status_code == 409 and "cannot be reclaimed" in r.json()["detail"]


def test_withdraw_with_no_credit_is_409(app, deployed):
    fresh = Account.create().address
    r = TestClient(app).get(f"/api/accounts/{fresh}/withdraw-tx")
    assert r.status_code == 409 and "nothing to withdraw" in r.json()["detail"]


def test_events_stream_replays_indexed_events(api_settings, deployed, tmp_path):
    job_id = chainwork.create_job(api_settings, deployed)
    with ApiProcess(api_settings, tmp_path / "api.log") as api:
        wait_indexed(api.url, [job_id])
        with event_stream(api.url) as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            seen = []
            for line in r.iter_lines():
                if line.startswith("data:"):
                    seen.append(json.loads(line[5:]))
                if line.startswith("event: ready"):
                    break
    created = [e for e in seen if e.get("name") == "JobCreated"]
    assert any(e["job_id"] == job_id for e in created)
