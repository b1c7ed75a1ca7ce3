"""The one lifecycle against the contract: in every state a job can be in, the actions
``zkpot.lifecycle`` allows are exactly the calls the escrow accepts.

Each state is reached with real transactions on a fresh Anvil (the mock verifier stands for
ezkl's, as in the contract unit tests); in each, every action is tried as an ``eth_call`` from
the party who may send it, with arguments that are right in every other respect (a node with
free collateral, a declarer's true opening, the next shard's committed bytes, a proof of the
committed test set and model). ``settle`` is the chain's answer per declaration: where the
lifecycle does not offer it, every settlement must be refused.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import pytest
from eth_abi import encode

from zkpot.chain import (ChainClient, ContractError, JobEscrowClient, JobParams, NodeRegistryClient, Opening,
                         StagePhase, deploy_all)
from zkpot.chain.clock import DevChainClock
from zkpot.devnet import Anvil, dev_private_keys
from zkpot.hashing import commitment, keccak
from zkpot.lifecycle import lifecycle

ACTIONS = ("declare", "reveal", "publish_test_shard", "submit_accuracy_proof", "forfeit_bounty", "reclaim")
WINDOW = 60          # commit and reveal windows (the contract's floor)
HOUR = 3600          # test-set and proof windows (their floor)
MODEL = 7            # the model commitment every stage declares
SHARDS = [b"shard zero's bytes", b"shard one's bytes"]
COMMITMENTS = [keccak(b"c_T 0"), keccak(b"c_T 1")]


@dataclass
class Job:
    id: int
    openings: dict[str, Opening] = field(default_factory=dict)  # the open attempt's declarers


class Chain:
    """An employer, five staked nodes and the escrow, on a chain whose clock the test moves."""

    def __init__(self, rpc_url: str):
        keys = dev_private_keys(6)
        employer = ChainClient(rpc_url, keys[0])
        self.deployment = deploy_all(employer, mock_verifier=True)
        self.employer = JobEscrowClient(employer, self.deployment.escrow)
        self.nodes = [JobEscrowClient(ChainClient(rpc_url, k), self.deployment.escrow) for k in keys[1:6]]
        for node in self.nodes:
            registry = NodeRegistryClient(node.client, self.deployment.registry)
            registry.register(registry.min_stake() * 4)
        self.clock = DevChainClock(employer)

    def now(self) -> int:
        return self.employer.client.chain_time()

    def advance(self, seconds: int) -> None:
        self.clock.wait_until(self.now() + seconds)

    def create(self, *, stages: int = 1, confirmations: int = 2, threshold: int = 3,
               deadline_s: int = 4 * HOUR) -> Job:
        params = JobParams(keccak(os.urandom(32)), "bafkreilifecycle", stages, confirmations, 10**15, 10**15,
                           threshold, 16, COMMITMENTS, [keccak(s) for s in SHARDS], self.deployment.verifier,
                           self.now() + deadline_s, WINDOW, WINDOW, HOUR, HOUR)
        return Job(self.employer.create_job(params))

    def declare(self, job: Job, node: JobEscrowClient, result: bytes = b"agreed") -> None:
        stage = self.employer.get_job(job.id).open_stage
        if self.employer.attempt_of(job.id).phase == StagePhase.ENDED:
            job.openings.clear()  # this declaration starts the next attempt
        rho, weights, rand = keccak(b"rho" + result), keccak(result), os.urandom(32)
        node.declare(job.id, stage, commitment(rho, weights, MODEL, rand, node.client.address))
        job.openings[node.client.address] = Opening(rho, weights, MODEL, rand, "bafkreistage")

    def reveal(self, job: Job, node: JobEscrowClient) -> None:
        stage = self.employer.get_job(job.id).open_stage
        node.reveal(job.id, stage, job.openings.pop(node.client.address))
        if self.employer.get_job(job.id).open_stage != stage:
            job.openings.clear()

    def finish_stage(self, job: Job, nodes: list[JobEscrowClient]) -> None:
        """``nodes`` declare the same result, the commit phase is let close, they all open it."""
        for node in nodes:
            self.declare(job, node)
        attempt = self.employer.attempt_of(job.id)
        if attempt.phase == StagePhase.COMMIT:
            self.clock.wait_until(attempt.commit_deadline)
        for node in nodes:
            self.reveal(job, node)

    def train(self, job: Job) -> None:
        for _ in range(self.employer.get_job(job.id).stages):
            self.finish_stage(job, self.nodes[:2])

    def publish(self, job: Job, shard: int) -> None:
        self.employer.publish_test_shard(job.id, shard, SHARDS[shard])

    def prove(self, job: Job, shard: int, correct: int) -> None:
        self.nodes[0].submit_accuracy_proof(job.id, shard, proof(shard, correct), [])

    # what the contract accepts now

    def accepted(self, job: Job) -> set[str]:
        view = self.employer.get_job(job.id)
        stage = view.open_stage or 1
        published, proven = self.employer.published_shards(job.id), self.employer.proven_shards(job.id)
        shard = next((i for i in range(len(SHARDS)) if i not in published), 0)
        unproven = next((i for i in range(len(SHARDS)) if i not in proven), 0)
        tries = {
            "declare": [(n, n.contract.functions.declare(job.id, stage, keccak(os.urandom(32))))
                        for n in self.nodes if n.client.address not in job.openings],
            "reveal": [(n, n.contract.functions.reveal(job.id, stage, job.openings[n.client.address].as_tuple()))
                       for n in self.nodes if n.client.address in job.openings],
            "publish_test_shard": [(self.employer, self.employer.contract.functions.publishTestShard(
                job.id, shard, SHARDS[shard]))],
            "submit_accuracy_proof": [(self.nodes[0], self.nodes[0].contract.functions.submitAccuracyProof(
                job.id, unproven, proof(unproven, 8), []))],
            "forfeit_bounty": [(self.nodes[0], self.nodes[0].contract.functions.forfeitBounty(job.id))],
            "reclaim": [(self.employer, self.employer.contract.functions.reclaim(job.id))],
        }
        return {name for name, calls in tries.items() if any(_accepts(who, fn) for who, fn in calls)}

    def settlement_accepted(self, job: Job) -> bool:
        fn = self.employer.contract.functions.settle
        return any(_accepts(self.employer, fn(job.id, n.client.address)) for n in self.nodes)

    def check(self, job: Job, status: str, phase: str | None = None) -> set[str]:
        """The lifecycle's status and phase are ``status`` and ``phase``, and it allows exactly
        what the contract accepts; the allowed actions."""
        life = lifecycle(self.employer.get_job(job.id), self.employer.attempt_of(job.id), self.now())
        assert (life.status, life.phase) == (status, phase)
        allowed = {a.name for a in life.actions}
        assert allowed - {"settle"} == self.accepted(job), life.waiting_for
        if "settle" not in allowed:
            assert not self.settlement_accepted(job)
        return allowed


def proof(shard: int, correct: int) -> bytes:
    """What the mock verifier reads as a valid proof of ``correct`` over shard ``shard``."""
    return encode(["bytes32", "uint256", "uint256"], [COMMITMENTS[shard], MODEL, correct])


def _accepts(who: JobEscrowClient, fn) -> bool:
    try:
        who.client.simulate(fn)
    except ContractError:
        return False
    return True


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    with Anvil(log_dir=tmp_path_factory.mktemp("lifecycle-anvil")) as anvil:
        yield Chain(anvil.rpc_url)


def test_training_through_its_phases_to_the_test_set(chain):
    job = chain.create(stages=2)
    assert chain.check(job, "training", "commit") == {"declare", "settle"}
    chain.declare(job, chain.nodes[0])
    assert chain.check(job, "training", "commit") == {"declare", "settle"}
    chain.clock.wait_until(chain.employer.attempt_of(job.id).commit_deadline + 5)
    assert chain.check(job, "training", "reveal") == {"reveal", "settle"}
    chain.clock.wait_until(chain.employer.attempt_of(job.id).reveal_deadline + 5)
    assert chain.check(job, "training", "ended") == {"declare", "settle"}
    for node in chain.nodes[1:4]:  # the next attempt, closed by count (2C - 1 = 3)
        chain.declare(job, node)
    assert chain.check(job, "training", "reveal") == {"reveal", "settle"}
    chain.reveal(job, chain.nodes[1])
    chain.reveal(job, chain.nodes[2])  # C = 2 agree: stage 1 is final, stage 2 opens
    assert chain.check(job, "training", "commit") == {"declare", "settle"}
    chain.finish_stage(job, chain.nodes[1:3])
    assert chain.check(job, "awaiting-test-set") == {"publish_test_shard", "settle"}
    chain.publish(job, 0)
    assert chain.check(job, "awaiting-test-set") == {"publish_test_shard", "settle"}
    chain.publish(job, 1)
    assert chain.check(job, "proving") == {"submit_accuracy_proof", "settle"}
    chain.prove(job, 0, 8)
    assert chain.check(job, "proving") == {"submit_accuracy_proof", "settle"}
    chain.advance(HOUR + 5)
    assert chain.check(job, "proving") == {"reclaim", "settle"}
    chain.employer.reclaim(job.id)
    chain.check(job, "reclaimed")


def test_a_certified_job_completes_and_one_below_threshold_fails(chain):
    done, below = chain.create(threshold=3), chain.create(threshold=12)
    for job in (done, below):
        chain.train(job)
        chain.publish(job, 0)
        chain.publish(job, 1)
        chain.prove(job, 0, 4)
        chain.prove(job, 1, 5)
    assert "settle" in chain.check(done, "complete")  # the bounty is owed to the last stage's nodes
    chain.check(below, "failed")


def test_a_withheld_test_set_forfeits_the_bounty(chain):
    job = chain.create()
    chain.train(job)
    chain.publish(job, 0)
    chain.advance(HOUR + 5)
    assert chain.check(job, "awaiting-test-set") == {"forfeit_bounty", "settle"}
    chain.nodes[3].forfeit_bounty(job.id)
    assert "settle" in chain.check(job, "forfeited")


def test_no_attempt_is_started_that_cannot_end_before_the_deadline(chain):
    job = chain.create(deadline_s=2 * WINDOW + 30)
    chain.advance(20)
    assert chain.check(job, "training", "commit") == {"declare", "settle"}
    chain.advance(50)  # nobody declared in the commit window: a first declaration now would
    # restart the attempt's clock, and now + commit + reveal is past the deadline
    assert chain.check(job, "training", "commit") == {"settle"}
    chain.advance(2 * WINDOW)
    assert chain.check(job, "training", "commit") == {"reclaim", "settle"}
    chain.employer.reclaim(job.id)
    chain.check(job, "reclaimed")


def test_a_stage_past_the_deadline_mid_attempt_can_only_be_reclaimed(chain):
    job = chain.create(deadline_s=3 * WINDOW)
    chain.declare(job, chain.nodes[0])
    chain.declare(job, chain.nodes[1])
    chain.advance(3 * WINDOW + 5)
    assert chain.check(job, "training", "ended") == {"reclaim", "settle"}
