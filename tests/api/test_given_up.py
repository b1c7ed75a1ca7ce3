"""Given-up reports: a registered node's signed word, shown on its job; forgeries, strangers,
replays, moved reports and floods refused (real Anvil and Redis; reports signed as a node's
worker signs them, ``zkpot.node.given_up``)."""

from __future__ import annotations

import time

import pytest
from eth_account import Account
from fastapi.testclient import TestClient

from api import given_up
from api.main import create_app
from tests.api import chainwork
from zkpot.node.given_up import MAX_AGE_S, GivenUpReport


@pytest.fixture
def deployed(api_settings):
    return chainwork.deploy(api_settings)


@pytest.fixture
def setup(api_settings, deployed):
    app = create_app(api_settings, follow_chain=False, dashboard_dir=None)
    nodes = chainwork.node_clients(api_settings, deployed, 1)
    chainwork.register(nodes)
    job_id = chainwork.create_job(api_settings, deployed, stages=2, confirmations=1)
    app.state.index.poll_once()
    with TestClient(app) as client:
        yield client, job_id, deployed, nodes[0][0].client.chain_id


def report(deployed, chain_id, key, job_id, stage=1, kind="train", reason="RuntimeError: no",
           at=None, escrow=None, **changed):
    """The request body a node's worker sends: the report's fields and its signature."""
    acct = Account.from_key(key)
    r = GivenUpReport.of(acct.address, chain_id, escrow or deployed.escrow, job_id, stage, kind,
                         reason, int(time.time()) if at is None else at)
    body = {"job_id": r.job_id, "stage": r.stage, "kind": r.kind, "reason": r.reason, "at": r.at,
            "signature": r.sign(acct)}
    return acct.address, {**body, **changed}


def test_a_registered_nodes_report_is_shown_on_its_job_in_its_words(setup):
    client, job_id, deployed, chain_id = setup
    assert client.get(f"/api/jobs/{job_id}").json()["given_up"] == []
    hostile = '<img src=x onerror="alert(1)"> ValueError: stage refused'
    node, body = report(deployed, chain_id, chainwork.KEYS[1], job_id, reason=hostile)
    r = client.post(f"/api/nodes/{node}/given-up", json=body)
    assert r.status_code == 201, r.text
    shown = client.get(f"/api/jobs/{job_id}").json()["given_up"]
    assert shown == [{"node": node, "kind": "train", "stage": 1, "reason": hostile, "at": body["at"]}]
    # the same step again replaces the report; another step is another line
    _, again = report(deployed, chain_id, chainwork.KEYS[1], job_id, reason="later words")
    assert client.post(f"/api/nodes/{node}/given-up", json=again).status_code == 201
    _, prove = report(deployed, chain_id, chainwork.KEYS[1], job_id, stage=0, kind="prove")
    assert client.post(f"/api/nodes/{node}/given-up", json=prove).status_code == 201
    shown = client.get(f"/api/jobs/{job_id}").json()["given_up"]
    assert [(g["kind"], g["stage"], g["reason"]) for g in shown] == [
        ("prove", 0, "RuntimeError: no"), ("train", 1, "later words")]


def test_forged_foreign_replayed_and_moved_reports_are_refused(setup):
    client, job_id, deployed, chain_id = setup
    node = Account.from_key(chainwork.KEYS[1]).address
    url = f"/api/nodes/{node}/given-up"
    # signed by someone else for the node's address
    _, forged = report(deployed, chain_id, chainwork.KEYS[5], job_id)
    r = client.post(url, json=forged)
    assert r.status_code == 403 and "not signed by the node" in r.json()["detail"]
    # the node's signature over other words
    _, body = report(deployed, chain_id, chainwork.KEYS[1], job_id)
    r = client.post(url, json={**body, "reason": "the employer's data is fake"})
    assert r.status_code == 403
    # a stranger (not a registered node), signing for itself
    stranger, own = report(deployed, chain_id, chainwork.KEYS[5], job_id)
    r = client.post(f"/api/nodes/{stranger}/given-up", json=own)
    assert r.status_code == 404 and "no registered node" in r.json()["detail"]
    # too old (a replay), from the future, for another escrow, another chain
    _, old = report(deployed, chain_id, chainwork.KEYS[1], job_id, at=int(time.time()) - MAX_AGE_S - 60)
    r = client.post(url, json=old)
    assert r.status_code == 422 and "taken up to" in r.json()["detail"]
    _, ahead = report(deployed, chain_id, chainwork.KEYS[1], job_id, at=int(time.time()) + 3600)
    assert client.post(url, json=ahead).status_code == 422
    _, moved = report(deployed, chain_id, chainwork.KEYS[1], job_id, escrow=deployed.registry)
    assert client.post(url, json=moved).status_code == 403
    _, other_chain = report(deployed, chain_id + 1, chainwork.KEYS[1], job_id)
    assert client.post(url, json=other_chain).status_code == 403
    # steps that cannot exist
    _, no_job = report(deployed, chain_id, chainwork.KEYS[1], job_id + 50)
    assert client.post(url, json=no_job).status_code == 404
    _, no_stage = report(deployed, chain_id, chainwork.KEYS[1], job_id, stage=3)
    assert client.post(url, json=no_stage).status_code == 409
    _, staged_proof = report(deployed, chain_id, chainwork.KEYS[1], job_id, stage=2, kind="prove")
    assert client.post(url, json=staged_proof).status_code == 409
    r = client.post(url, json={**body, "kind": "__import__('os')"})
    assert r.status_code == 422
    r = client.post(url, json={**body, "reason": "x" * 501})
    assert r.status_code == 422
    assert client.get(f"/api/jobs/{job_id}").json()["given_up"] == []


@pytest.mark.parametrize("cap", ["PER_JOB_MAX", "PER_NODE_MAX"])
def test_a_job_keeps_a_bounded_number_of_reports(setup, monkeypatch, cap):
    """A job's page, and one node's share of it, are bounded (checked in one Redis script)."""
    client, job_id, deployed, chain_id = setup
    monkeypatch.setattr(given_up, cap, 2)
    node = Account.from_key(chainwork.KEYS[1]).address
    answers = [client.post(f"/api/nodes/{node}/given-up",
                           json=report(deployed, chain_id, chainwork.KEYS[1], job_id, stage=1, kind=k)[1])
               for k in ("train", "declare", "reveal")]
    assert [a.status_code for a in answers] == [201, 201, 429]
    assert ("job" if cap == "PER_JOB_MAX" else node) in answers[2].json()["detail"]
    # replacing a report already kept is still taken
    _, again = report(deployed, chain_id, chainwork.KEYS[1], job_id, reason="again")
    assert client.post(f"/api/nodes/{node}/given-up", json=again).status_code == 201
    assert len(client.get(f"/api/jobs/{job_id}").json()["given_up"]) == 2


def test_a_new_chain_does_not_inherit_the_reports_of_an_old_one(setup, api_settings):
    """A dev chain started again reuses the escrow address and job ids: reports are kept by
    the job's creation transaction too, so the new job 1 starts with none."""
    client, job_id, deployed, chain_id = setup
    node, body = report(deployed, chain_id, chainwork.KEYS[1], job_id)
    assert client.post(f"/api/nodes/{node}/given-up", json=body).status_code == 201
    board, index = client.app.state.given_up, client.app.state.index
    created_tx = index.jobs[job_id].tx
    assert len(board.of_job(deployed.escrow, job_id, created_tx)) == 1
    assert board.of_job(deployed.escrow, job_id, "0x" + "ab" * 32) == []


def test_concurrent_posts_cannot_pass_the_caps(setup, monkeypatch):
    """A node racing many reports at once (distinct steps, each its own request thread) gets
    exactly its cap kept: the check and the write are one Redis script."""
    import threading

    client, job_id, deployed, chain_id = setup
    monkeypatch.setattr(given_up, "PER_NODE_MAX", 4)
    board = client.app.state.given_up
    node = Account.from_key(chainwork.KEYS[1]).address
    created_tx = client.app.state.index.jobs[job_id].tx
    steps = [(stage, kind) for stage in (1, 2) for kind in ("train", "declare", "reveal")] + \
        [(0, kind) for kind in ("settle", "prove", "submit")]
    reports = [GivenUpReport.of(node, chain_id, deployed.escrow, job_id, stage, kind, "r", 0)
               for stage, kind in steps]
    outcomes: list[str] = []
    start = threading.Barrier(len(reports))

    def post(report):
        start.wait()
        try:
            board.put(report, created_tx)
            outcomes.append("kept")
        except Exception as exc:  # noqa: BLE001 - the 429 ProblemError
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=post, args=(r,)) for r in reports]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("kept") == 4 and len(outcomes) == len(reports) == 9
    assert len(board.of_job(deployed.escrow, job_id, created_tx)) == 4
