"""The proving steps follow the shard's turn, read from the chain view: the designated node
proves at once, the others only after the grace period, nobody once the shard is proven."""

from __future__ import annotations

from types import SimpleNamespace

from zkpot.chain import JobStatus
from zkpot.node import proving
from zkpot.node.chainview import PublishedTestSet
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
        return PublishedTestSet("bafytest", 1_000, 1_000 + 86_400)

    def test_set_cid(self, job_id):
        return "bafytest"

    def finalists(self, job_id, stage):
        return [B, A]

    def chain_time(self):
        return self.now

    def job(self, job_id):
        return SimpleNamespace(job_id=job_id, stages=2, status=JobStatus.PROVING)


def node(me: str, chain: FakeChain, tmp_path) -> SimpleNamespace:
    return SimpleNamespace(identity=SimpleNamespace(address=me), chain=chain,
                           settings=SimpleNamespace(prove_grace_s=600),
                           store=SimpleNamespace(folder=tmp_path / me))


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
