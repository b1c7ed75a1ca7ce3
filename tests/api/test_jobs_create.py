"""Job creation end to end: chunks and manifest stored, the createJob transaction is exact."""

from __future__ import annotations

import json

from eth_account import Account
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.main import create_app
from tests.api import chainwork
from tests.api.conftest import sign_in
from zkpot.chain import ChainClient, JobEscrowClient
from zkpot.manifest import Manifest
from zkpot.spec import PRESETS
from zkpot.storage import open_store


def test_create_job_returns_the_createjob_tx_and_dev_mode_sends_it(api_settings):
    deployed = chainwork.deploy(api_settings)
    settings = api_settings.model_copy(update={"employer_key": SecretStr(chainwork.KEYS[0])})
    app = create_app(settings, follow_chain=False, dashboard_dir=None)
    client = TestClient(app, base_url="http://zkpot.test")
    auth = sign_in(client, chainwork.KEYS[0])
    r = client.post("/api/jobs", headers=auth, data={
        "spec": json.dumps(PRESETS["wine-mlp"]), "demo_dataset": "wine", "reward_per_stage_wei": "1000",
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
