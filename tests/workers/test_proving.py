"""The proving steps follow the shard's turn, read from the chain view: the designated node
proves at once, the others only after the grace period, nobody once the shard is proven; a
proof the chain rejects is recorded once and never submitted again (real Anvil and escrow)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

from zkpot.chain import JobStatus
from zkpot.config import PROJECT_ROOT
from zkpot.node import proving
from zkpot.node.chainview import PublishedTestSet
from zkpot.node.store import NodeStore
from zkpot.node.work import Plan

A, B = "0x" + "0a" * 20, "0x" + "0b" * 20
ZERO = proving.ZERO


class FakeChain:
    """The reads ``zkpot.node.proving`` makes, over plain values."""

    def __init__(self, shards: int = 1, now: int = 1_000):
        self.submitters = [ZERO] * shards
        self.now = now
        self.escrow = SimpleNamespace(shard_commitments=lambda job: [b"c"] * len(self.submitters),
                                      shard_submitter=lambda job, s: self.submitters[s])

    def test_set(self, job_id):
        return PublishedTestSet([b"shard"] * len(self.submitters), 1_000, 1_000 + 86_400)

    def finalists(self, job_id, stage, confirmations):
        return [B, A]

    def chain_time(self):
        return self.now

    def job(self, job_id):
        return SimpleNamespace(job_id=job_id, stages=2, confirmations=2, status=JobStatus.PROVING)


def node(me: str, chain: FakeChain, tmp_path) -> SimpleNamespace:
    return SimpleNamespace(identity=SimpleNamespace(address=me), chain=chain,
                           settings=SimpleNamespace(prove_grace_s=600),
                           store=NodeStore(tmp_path / me))


def planned(n) -> list[str]:
    plan = Plan()
    proving.plan(n, n.chain.job(1), plan)
    return [s.kind for s in plan.steps]


def test_only_the_designated_node_plans_to_prove(tmp_path):
    chain = FakeChain()                                # job 1, shard 0: [A, B][1] = B
    assert planned(node(B, chain, tmp_path)) == ["prove"]
    standby = node(A, chain, tmp_path)
    assert planned(standby) == []
    assert "nothing to prove here now" in proving.prove(standby, 1)
    chain.now = 1_600                                  # grace over, shard still unproven
    assert planned(standby) == ["prove"]


def test_a_node_that_is_not_a_finalist_never_plans_to_prove(tmp_path):
    chain = FakeChain(now=50_000)                      # long after the grace period
    outsider = node("0x" + "0e" * 20, chain, tmp_path)
    assert planned(outsider) == []
    assert proving.prove(outsider, 1).startswith("nothing to prove here now")


def test_a_shard_proven_meanwhile_is_neither_proven_nor_submitted(tmp_path):
    chain = FakeChain(now=1_600)
    designated = node(B, chain, tmp_path)
    folder = proving._proof_dir(designated, 1)
    (folder / "shard0.json").write_text('{"proof": "00", "instances": [], "correct": 0}')
    chain.submitters[0] = A                            # the standby's proof landed first
    chain.submit_proof = lambda *a: (_ for _ in ()).throw(AssertionError("sent"))
    assert planned(designated) == [] and planned(node(A, chain, tmp_path)) == []
    assert proving.prove(node(A, chain, tmp_path), 1).startswith("nothing to prove")
    assert proving.submit(designated, 1) == "submitted 0 proof(s)"


# ---- a proof the chain rejects, on a real Anvil and escrow -----------------------------------

def _final_job(world, start_node, model_commitment: int = 777):
    """A one-stage C=1 job finalised by node 1 (declared h_W = ``model_commitment``) with its
    test set published: the job is proving and node 1 is the shard's designated prover."""
    from tests.workers.conftest import KEYS
    from tests.workers.jobs import TINY_SHARD, create_tiny_job
    from zkpot.hashing import keccak
    from zkpot.node import training

    running = start_node(1, workers=False)
    node = running.node
    job = create_tiny_job(world.rpc_url, KEYS[0], world.deployment, world.store, stages=1,
                          confirmations=1)
    result = training.TrainedStage(weights=b"S1", weights_hash=keccak(b"S1"),
                                   model_commitment=model_commitment, rho=keccak(b"rho"))
    rand = keccak(b"rand")
    node.store.save_trained(job.job_id, 1, 0, weights_hash=result.weights_hash,
                            model_commitment=model_commitment, rho=result.rho, rand=rand,
                            commitment=training.commit(result, rand, node.identity.address), weights=b"S1")
    assert node.declare(job.job_id, 1, 0).startswith("declared")
    assert node.reveal(job.job_id, 1, 0).startswith("revealed")
    world.escrow(0).publish_test_shard(job.job_id, 0, TINY_SHARD)
    assert node.settle(job.job_id) == "settled"          # its reward: the stage was the last
    node.plan()                                        # reads JobCreated: the node knows the job
    return node, job.job_id


def _mock_proof(test_set: bytes, model: int, correct: int = 3) -> dict:
    from eth_abi import encode as abi_encode

    proof = abi_encode(["bytes32", "uint256", "uint256"], [test_set, model, correct])
    return {"proof": proof.hex(), "instances": [str(model), str(correct)], "correct": correct}


@pytest.mark.parametrize("wrong", ["test set", "model"])
def test_a_rejected_proof_is_recorded_once_and_never_resubmitted(world, start_node, wrong, caplog):
    from zkpot.hashing import keccak

    node, job_id = _final_job(world, start_node)
    shard = keccak(b"tiny test shard")                 # the job's one shard commitment
    proof = (_mock_proof(keccak(b"another shard"), 777) if wrong == "test set"
             else _mock_proof(shard, 778))
    path = proving._proof_dir(node, job_id) / "shard0.json"
    path.write_text(json.dumps(proof))
    assert [s.kind for s in node.plan().steps] == ["submit"]

    with caplog.at_level(logging.WARNING, logger="zkpot.node"):
        outcome = node.submit(job_id)
    reason = "TestSetMismatch" if wrong == "test set" else "ModelMismatch"
    assert outcome == "submitted 0 proof(s), 1 rejected"
    assert [r.levelno for r in caplog.records if reason in r.getMessage()] == [logging.WARNING]
    assert not path.exists()                           # kept aside, under another name
    assert (path.parent / "shard0.rejected.json").exists()

    # later ticks neither prove the shard again nor resubmit the proof
    caplog.clear()
    assert node.plan().steps == []
    assert node.submit(job_id) == "submitted 0 proof(s)"
    assert node.prove(job_id).startswith("nothing to prove")
    assert not [r for r in caplog.records if reason in r.getMessage()]
    assert node.chain.escrow.shard_submitter(job_id, 0) == ZERO

    rejected = node.status().rejected_proofs
    assert [(r.job_id, r.shard) for r in rejected] == [(job_id, 0)]
    assert reason in rejected[0].reason
    # and the operator sees it in `zkpot node status`
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT), COLUMNS="300",
               **{f"ZKPOT_{k.upper()}": str(v) for k, v in world.env(1).items()})
    done = subprocess.run([sys.executable, "-m", "cli", "node", "status"], env=env,
                          text=True, capture_output=True, timeout=120, cwd=PROJECT_ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"proof rejected by the chain, not resubmitted: job {job_id} shard 0: {reason}" \
        in done.stdout
