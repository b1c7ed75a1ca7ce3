"""After real stages: loss/accuracy curves from the stored weights, and the private test set
published by its employer only once the last stage is final."""

from __future__ import annotations

import os

import numpy as np
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.main import create_app
from tests.api import chainwork
from tests.api.conftest import sign_in
from zkpot.chain import ChainClient, JobEscrowClient, JobStatus
from zkpot.datasets import DatasetError, decode_chunk
from zkpot.hashing import keccak
from zkpot.testset import decode_shard
from zkpot.storage import open_store


@pytest.fixture
def deployed(api_settings):
    return chainwork.deploy(api_settings)


@pytest.fixture
def dev_settings(api_settings):
    return api_settings.model_copy(update={"employer_key": SecretStr(chainwork.KEYS[0])})


@pytest.fixture
def job(dev_settings, deployed):
    nodes = chainwork.node_clients(dev_settings, deployed, 2)
    chainwork.register(nodes)
    job_id, prepared = chainwork.create_prepared_job(dev_settings, deployed)
    return job_id, prepared, nodes


def test_test_set_is_private_until_the_last_stage_then_published(dev_settings, deployed, job):
    job_id, prepared, nodes = job
    store = open_store(dev_settings)
    assert prepared.test_set_path.is_file() and dev_settings.store_dir not in prepared.test_set_path.parents
    app = create_app(dev_settings, follow_chain=False, dashboard_dir=None)
    client = TestClient(app, base_url="http://zkpot.test")
    auth = sign_in(client, chainwork.KEYS[0])

    chainwork.train_and_finalise(dev_settings, deployed, nodes, job_id, prepared.manifest, last=1)
    early = client.post(f"/api/jobs/{job_id}/test-set", headers=auth)
    assert early.status_code == 409, early.text
    assert "still training" in early.json()["detail"] and "1 of 3" in early.json()["detail"]

    escrow = JobEscrowClient(ChainClient(dev_settings.rpc_url), deployed.escrow)
    chainwork.train_and_finalise(dev_settings, deployed, nodes, job_id, prepared.manifest, first=2)
    assert escrow.get_job(job_id).status == JobStatus.AWAITING_TEST_SET

    stranger = sign_in(client, chainwork.KEYS[5])
    r = client.post(f"/api/jobs/{job_id}/test-set", headers=stranger)
    assert r.status_code == 403 and "only the employer" in r.json()["detail"]

    r = client.post(f"/api/jobs/{job_id}/test-set", headers=auth)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["tx_hashes"] and out["samples"] == prepared.params.samples == 32
    assert out["shards"] == len(prepared.params.shard_commitments) == len(out["tx_hashes"])
    assert escrow.get_job(job_id).status == JobStatus.PROVING
    app.state.index.poll_once()
    view = client.get(f"/api/jobs/{job_id}").json()
    assert view["status"] == "proving" and len(view["test_shards"]) == out["shards"]
    # what was posted on chain is the private test set, in the bytes the job committed to
    posted = [decode_shard(escrow.test_shard_data(t["tx"])[2]) for t in view["test_shards"]]
    assert np.array_equal(np.concatenate([p.x for p in posted]), prepared.test_set.features)
    assert np.array_equal(np.concatenate([p.labels for p in posted]), prepared.test_set.labels)
    assert [keccak(escrow.test_shard_data(t["tx"])[2]) for t in view["test_shards"]] == \
        prepared.params.shard_data_hashes

    again = client.post(f"/api/jobs/{job_id}/test-set", headers=auth)
    assert again.status_code == 409 and "can no longer be published" in again.json()["detail"]



def test_a_copy_job_with_the_victims_manifest_gets_no_test_set(dev_settings, deployed, job):
    victim_id, prepared, nodes = job
    store = open_store(dev_settings)
    # another employer escrows a one-stage job with the victim's manifest hash and CID, and
    # has it finalised while the victim's own job is still training
    attacker = chainwork.KEYS[5]
    copy_id = chainwork.create_job(dev_settings, deployed, stages=1, confirmations=2, key=attacker,
                                   manifest_cid=prepared.manifest_cid, manifest_hash=prepared.manifest_hash)
    rho = os.urandom(32)
    openings = chainwork.declare_stage(nodes, copy_id, 1, keccak(b"any weights"), rho, store.put(b"any weights"))
    chainwork.reveal_stage(dev_settings, nodes, copy_id, 1, openings)
    escrow = JobEscrowClient(ChainClient(dev_settings.rpc_url), deployed.escrow)
    assert escrow.get_job(copy_id).status == JobStatus.AWAITING_TEST_SET
    assert escrow.get_job(copy_id).manifest_hash == prepared.manifest_hash
    before = set(p.name for p in dev_settings.store_dir.iterdir())

    client = TestClient(create_app(dev_settings, follow_chain=False, dashboard_dir=None),
                        base_url="http://zkpot.test")
    r = client.post(f"/api/jobs/{copy_id}/test-set", headers=sign_in(client, attacker))
    assert r.status_code == 404, r.text
    assert "no test set prepared by" in r.json()["detail"]
    # nothing was published: no new object, and none of the store's objects is the test set
    assert set(p.name for p in dev_settings.store_dir.iterdir()) == before
    for cid in before:
        try:
            held = decode_chunk(store.get(cid))
        except DatasetError:
            continue
        assert len(held) != len(prepared.test_set) or not np.array_equal(held.features, prepared.test_set.features)
    assert escrow.get_job(victim_id).status == JobStatus.TRAINING
    # the victim's own request is answered by the job's state (still training), not the copy's
    early = client.post(f"/api/jobs/{victim_id}/test-set", headers=sign_in(client, chainwork.KEYS[0]))
    assert early.status_code == 409 and "still training" in early.json()["detail"]


def test_curves_appear_for_finalised_stages(dev_settings, deployed, job):
    job_id, prepared, nodes = job
    app = create_app(dev_settings, follow_chain=False, dashboard_dir=None)
    client = TestClient(app)
    app.state.index.poll_once()
    empty = client.get(f"/api/jobs/{job_id}/curves").json()
    assert empty["points"] == [] and empty["evaluated_on"] == "training set"

    cids = chainwork.train_and_finalise(dev_settings, deployed, nodes, job_id, prepared.manifest, last=2)
    app.state.index.poll_once()
    curves = client.get(f"/api/jobs/{job_id}/curves").json()
    assert [p["stage"] for p in curves["points"]] == [1, 2] and curves["unavailable"] == {}
    assert [p["weights_cid"] for p in curves["points"]] == cids
    for p in curves["points"]:
        assert 0 < p["mean_loss"] < 5 and 0 <= p["accuracy"] <= 1
    # the wine MLP learns: stage 2's weights classify the training set better than chance
    assert curves["points"][1]["accuracy"] > 1 / 3
    # the job view carries the same (cached) metrics on its final stages
    stages = client.get(f"/api/jobs/{job_id}").json()["stages"]
    assert stages[0]["metrics"]["accuracy"] == curves["points"][0]["accuracy"]
    assert stages[2]["metrics"] is None


def test_curves_skip_weights_that_do_not_match_the_chain(dev_settings, deployed, job):
    job_id, prepared, nodes = job
    from zkpot.hashing import keccak

    # a stage finalised with a CID whose content is not the declared weights
    rho = keccak(b"rho")
    bogus = open_store(dev_settings).put(b"not these weights")
    openings = chainwork.declare_stage(nodes, job_id, 1, keccak(b"declared weights"), rho, bogus)
    chainwork.reveal_stage(dev_settings, nodes, job_id, 1, openings)
    app = create_app(dev_settings, follow_chain=False, dashboard_dir=None)
    app.state.index.poll_once()
    curves = TestClient(app).get(f"/api/jobs/{job_id}/curves").json()
    assert curves["points"] == [] and "do not match" in curves["unavailable"]["1"]


@pytest.mark.parametrize("cid", ["/" + "a" * 300, "{forged}"])
def test_a_cid_from_the_chain_never_becomes_a_path(dev_settings, deployed, job, tmp_path, cid):
    # found by an attack: the curves cache was named by the finalised CID, so an overlong one
    # failed every page of the job and an absolute one read a file of the attacker's choosing
    job_id, prepared, nodes = job
    forged = tmp_path / "forged"
    forged.with_name("forged.train.json").write_text(
        '{"stage": 1, "weights_cid": "x", "loss": 0.0001, "accuracy": 1.0}')
    cid = cid.format(forged=forged)
    openings = chainwork.declare_stage(nodes, job_id, 1, keccak(b"declared weights"), keccak(b"rho"), cid)
    chainwork.reveal_stage(dev_settings, nodes, job_id, 1, openings)
    app = create_app(dev_settings, follow_chain=False, dashboard_dir=None)
    app.state.index.poll_once()
    client = TestClient(app)
    curves = client.get(f"/api/jobs/{job_id}/curves")
    assert curves.status_code == 200 and curves.json()["points"] == []
    assert "not a base32 CIDv1" in curves.json()["unavailable"]["1"]
    assert client.get(f"/api/jobs/{job_id}").status_code == 200


def test_curves_of_a_job_without_a_readable_manifest_say_why(api_settings, deployed):
    job_id = chainwork.create_job(api_settings, deployed)
    app = create_app(api_settings, follow_chain=False, dashboard_dir=None)
    app.state.index.poll_once()
    client = TestClient(app)
    r = client.get(f"/api/jobs/{job_id}/curves")
    assert r.status_code == 200 and r.json()["points"] == []
    assert "manifest is not in this server's store" in r.json()["reason"]
    assert client.get("/api/jobs/999999/curves").status_code == 404
