"""Job creation end to end: chunks and manifest stored, the createJob transaction is exact; what
the contract would refuse is refused first and stores nothing; dev mode spends only its own."""

from __future__ import annotations

import json
import time

import pytest
from eth_account import Account
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.index import FRESH_S
from api.main import create_app
from tests.api import chainwork
from tests.api.conftest import sign_in
from zkpot import jobs, testsets
from zkpot.chain import ChainClient, JobEscrowClient
from zkpot.manifest import Manifest
from zkpot.prepared import PreparedJobs
from zkpot.spec import PRESETS
from zkpot.storage import open_store


def test_create_job_returns_the_createjob_tx_and_dev_mode_sends_it(api_settings):
    deployed = chainwork.deploy(api_settings)
    settings = api_settings.model_copy(update={"employer_key": SecretStr(chainwork.KEYS[0])})
    app = create_app(settings, follow_chain=False, dashboard_dir=None)
    client = TestClient(app, base_url="http://zkpot.test")
    auth = sign_in(client, chainwork.KEYS[0])
    r = client.post("/api/jobs", headers=auth, data={
        "spec": json.dumps(PRESETS["wine-mlp"]), "demo_dataset": "wine", "reward_per_declaration_wei": "1000",
        "quorum": "2", "theta": "0.5", "shard_size": "16", "stage_flops": "500000"})
    assert r.status_code == 201, r.text
    job = r.json()
    store = open_store(settings)
    manifest = Manifest.from_bytes(store.get(job["manifest_cid"]))
    assert "0x" + manifest.keccak().hex() == job["manifest_hash"]
    assert manifest.chunks == job["chunk_cids"] and all(store.has(c) for c in manifest.chunks)
    assert job["stage_count"] == manifest.stages >= 2
    assert job["threshold"] == -(-job["test_samples"] // 2)
    tx = job["transaction"]
    assert tx["to"] == deployed.escrow and int(tx["value"]) == int(job["deposit"]) == manifest.stages * 2 * 1000

    # dev mode signed it: the job is on chain with this manifest
    assert job["tx_hash"]
    app.state.index.poll_once()
    listed = client.get("/api/jobs").json()["items"]
    mine = [j for j in listed if j["manifest_hash"] == job["manifest_hash"]]
    assert len(mine) == 1 and mine[0]["employer"] == Account.from_key(chainwork.KEYS[0]).address
    view = JobEscrowClient(ChainClient(settings.rpc_url), deployed.escrow).get_job(mine[0]["job_id"])
    assert view.stages == manifest.stages and view.confirmations == 2


FORM = {"spec": json.dumps(PRESETS["wine-mlp"]), "demo_dataset": "wine", "reward_per_declaration_wei": "1000",
        "quorum": "2", "theta": "0.5", "shard_size": "16", "stage_flops": "500000"}


def _stored(settings) -> list:
    return [p for p in settings.state_dir.rglob("*") if p.is_file()
            and ("store" in p.parts or "private" in p.parts)]


def _dev(api_settings):
    deployed = chainwork.deploy(api_settings)
    settings = api_settings.model_copy(update={"employer_key": SecretStr(chainwork.KEYS[0])})
    app = create_app(settings, follow_chain=False, dashboard_dir=None)
    return deployed, settings, app, TestClient(app, base_url="http://zkpot.test")


def test_dev_mode_signs_only_for_the_dev_employers_own_wallet(api_settings):
    deployed, settings, app, client = _dev(api_settings)
    other = sign_in(client, chainwork.KEYS[3])   # any wallet that signed in
    r = client.post("/api/jobs", headers=other, data=FORM)
    assert r.status_code == 201, r.text
    job = r.json()
    # no escrow was spent from the dev key: the wallet gets the transaction to sign itself
    assert job["tx_hash"] is None and job["transaction"]["to"] == deployed.escrow
    escrow = JobEscrowClient(ChainClient(settings.rpc_url), deployed.escrow)
    assert escrow.job_count() == 0
    mine = client.post("/api/jobs", headers=sign_in(client, chainwork.KEYS[0]), data=FORM).json()
    assert mine["tx_hash"] and escrow.job_count() == 1


@pytest.mark.parametrize("field,value,words", [
    ("reward_per_declaration_wei", str(2**64), ["reward_per_declaration", "2^64 - 1"]),
    ("bounty_wei", str(2**64), ["bounty", "2^64 - 1"]),
    ("stage_flops", "1000", ["stages", "ZKPOT_MAX_STAGES"]),
    ("shard_size", "1", ["32", "shard"]),
])
def test_terms_the_contract_would_refuse_are_422_with_a_reason_and_store_nothing(
        api_settings, field, value, words):
    deployed, settings, app, client = _dev(api_settings)
    capped = settings.model_copy(update={"max_stages": 64})
    client = TestClient(create_app(capped, follow_chain=False, dashboard_dir=None), base_url="http://zkpot.test")
    r = client.post("/api/jobs", headers=sign_in(client, chainwork.KEYS[0]), data={**FORM, field: value})
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert all(w in detail for w in words), detail
    assert "0x" not in detail and r.json()["errors"][0]["loc"][-1]
    assert _stored(settings) == []


def test_an_employer_who_cannot_pay_gets_409_before_anything_is_stored(api_settings):
    deployed, settings, app, client = _dev(api_settings)
    poor = Account.create()
    r = client.post("/api/jobs", headers=sign_in(client, poor.key.to_0x_hex()), data=FORM)
    assert r.status_code == 409, r.text
    assert poor.address in r.json()["detail"] and "holds 0 ETH" in r.json()["detail"]
    assert _stored(settings) == []


def test_an_unreachable_chain_is_503_and_nothing_is_stored(api_settings):
    from zkpot.devnet import free_port

    deployed, settings, app, client = _dev(api_settings)
    auth = sign_in(client, chainwork.KEYS[0])
    gone = settings.model_copy(update={"rpc_url": f"http://127.0.0.1:{free_port()}", "chain_id": 31337})
    client = TestClient(create_app(gone, follow_chain=False, dashboard_dir=None), base_url="http://zkpot.test")
    r = client.post("/api/jobs", headers=auth, data=FORM)
    assert r.status_code == 503 and "does not answer" in r.json()["detail"], r.text
    assert _stored(settings) == []


def test_jobs_no_wallet_creates_are_bounded_and_expire_keeping_what_created_jobs_use(api_settings, tmp_path):
    # found by an attack: a wallet that never sent its createJob stored up to 256 MiB a request, for good
    deployed, settings, app, client = _dev(api_settings)
    settings = settings.model_copy(update={"max_pending_jobs": 1})
    app = create_app(settings, follow_chain=False, dashboard_dir=None)
    client = TestClient(app, base_url="http://zkpot.test")
    stranger, dev = (Account.from_key(chainwork.KEYS[i]).address for i in (3, 0))
    first = client.post("/api/jobs", headers=sign_in(client, chainwork.KEYS[3]), data=FORM)
    assert first.status_code == 201, first.text
    first = first.json()
    assert time.time() < first["prepared_until"] <= time.time() + settings.prepared_ttl_s
    before = _stored(settings)
    again = client.post("/api/jobs", headers=sign_in(client, chainwork.KEYS[3]), data={**FORM, "theta": "0.7"})
    assert again.status_code == 429 and "ZKPOT_MAX_PENDING_JOBS" in again.json()["detail"], again.text
    assert _stored(settings) == before
    # the dev employer's job of the same data goes on chain: its chunks are the ones the stranger's added
    mine = client.post("/api/jobs", headers=sign_in(client, chainwork.KEYS[0]), data={**FORM, "theta": "0.6"}).json()
    assert mine["tx_hash"] and mine["chunk_cids"] == first["chunk_cids"]
    index = app.state.index
    index.poll_once()
    # created only for the wallet that created it, and nothing decided by a stale index
    mine_hash = bytes.fromhex(mine["manifest_hash"][2:])
    assert index.has_job(mine_hash, dev) is True and index.has_job(mine_hash, stranger) is False
    index.read_at -= FRESH_S + 1
    assert index.has_job(mine_hash, dev) is None
    index.error = "RPC unreachable"
    index.poll_once()                    # a read that succeeds is fresh again; the error stays set
    assert index.has_job(mine_hash, dev) is None
    index.error = None
    # past the waiting time: the stranger's preparation goes, except what the created job uses
    later = PreparedJobs(settings, app.state.index.has_job, clock=lambda: time.time() + settings.prepared_ttl_s + 1)
    later.release(later.reserve(Account.from_key(chainwork.KEYS[4]).address, [], tmp_path / "none"))
    store = open_store(settings)
    assert all(store.has(c) for c in mine["chunk_cids"]) and store.has(mine["manifest_cid"])
    assert not store.has(first["manifest_cid"])
    with pytest.raises(jobs.TestSetNotHeld):
        testsets.find(settings, stranger, bytes.fromhex(first["manifest_hash"][2:]))
    testsets.find(settings, dev, bytes.fromhex(mine["manifest_hash"][2:]))
    # the stranger may prepare again; the server's byte bound holds for any wallet
    assert client.post("/api/jobs", headers=sign_in(client, chainwork.KEYS[3]), data=FORM).status_code == 201
    tight = settings.model_copy(update={"max_pending_bytes": settings.max_job_bytes + 1024})
    client = TestClient(create_app(tight, follow_chain=False, dashboard_dir=None), base_url="http://zkpot.test")
    full = client.post("/api/jobs", headers=sign_in(client, chainwork.KEYS[4]), data=FORM)
    assert full.status_code == 429 and "ZKPOT_MAX_PENDING_BYTES" in full.json()["detail"], full.text

