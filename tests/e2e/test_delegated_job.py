"""The demo's flow on a smaller job, with real everything: Anvil, Redis, the API in dev mode
(uvicorn), three nodes as Celery worker processes, ezkl proofs and the ezkl verifier contract.

The employer posts through the API, the nodes train, declare, reveal and finalise every stage,
the employer publishes the test set through the API, the nodes prove the final model's
accuracy and the verifier contract accepts it, and everyone withdraws.
"""

from __future__ import annotations

import pytest

from zkpot.chain import JobEscrowClient, JobStatus, fetch_events
from zkpot.demo.job import run_job
from zkpot.demo.run import (DEMO_SAMPLES, DEMO_SHARD_SIZE, SHORT_STAGE_FLOPS, SHORT_THETA,
                            demo_request)
from zkpot.demo.stack import CircuitChoice, DemoStack
from zkpot.devnet import free_port
from zkpot.hashing import commitment

pytestmark = pytest.mark.slow

# 400 digits: 320 train, 80 test (one proof shard of 64); 512 samples per stage: 3 stages
SAMPLES, SHARD, STAGE_FLOPS, THETA = DEMO_SAMPLES, DEMO_SHARD_SIZE, SHORT_STAGE_FLOPS, SHORT_THETA


@pytest.fixture(scope="module")
def stack(tmp_path_factory, circuit_cache):
    root = tmp_path_factory.mktemp("e2e")
    circuits = circuit_cache
    lines: list[str] = []
    with DemoStack(root=root / "run", circuit_dir=circuits, anvil_port=free_port(),
                   redis_port=free_port(), api_port=free_port(),
                   circuit=CircuitChoice("digits-mlp", SHARD), say=lines.append) as s:
        s.lines = lines
        yield s


@pytest.fixture(scope="module")
def outcome(stack):
    lines = stack.lines
    try:
        return run_job(stack, demo_request(SAMPLES, STAGE_FLOPS, SHARD, THETA), line=lines.append,
                       timeout=900)
    except Exception:
        tails = "\n".join(f"--- {p}\n" + "\n".join(p.read_text(errors="replace").splitlines()[-20:])
                          for p in stack.node_logs() if p.exists())
        pytest.fail("the job did not finish:\n" + "\n".join(lines[-30:]) + "\n" + tails)


def test_every_stage_is_final_with_c_agreeing_nodes_paid(outcome):
    assert outcome.status == JobStatus.COMPLETED
    assert outcome.stage_count >= 2
    assert [s.stage for s in outcome.stages] == list(range(1, outcome.stage_count + 1))
    for s in outcome.stages:
        assert len(s.paid) == outcome.confirmations == 2
        assert set(s.paid) <= set(s.declared) and not s.slashed
    assert outcome.rho_agreed


def test_revealed_rho_opens_every_paid_declaration(stack, outcome):
    """ρ agreed: the revealed secret opens each paid node's commitment, bound to its address."""
    events = fetch_events(stack.employer_client(), stack.deployment)
    paid = {(e["stage"], e["node"]) for e in events if e.name == "DeclarationRewarded"}
    rho = {e["stage"]: e["rho"] for e in events if e.name == "StageFinalised"}
    opened = 0
    for e in events:
        if e.name == "StageDeclared" and (e["stage"], e["node"]) in paid:
            assert commitment(rho[e["stage"]], e["rand"], e["node"]) == e["commitment"]
            opened += 1
    assert opened == outcome.stage_count * outcome.confirmations


def test_accuracy_proof_is_accepted_by_the_real_verifier(stack, outcome):
    escrow = JobEscrowClient(stack.employer_client(), stack.deployment.escrow)
    job = escrow.get_job(outcome.job_id)
    # the job was checked by the ezkl verifier adapter, not a mock
    assert job.verifier == stack.deployment.contracts["EzklAccuracyVerifier"]
    assert "MockAccuracyVerifier" not in stack.deployment.contracts
    assert sorted(p[0] for p in outcome.proofs) == list(range(job.shard_count))
    assert job.shards_proven == job.shard_count == outcome.samples // SHARD
    assert outcome.proven_correct == sum(p[2] for p in outcome.proofs) >= outcome.threshold
    # the proven count is the final model's (quantised) count: within a sample per shard of float
    assert abs(outcome.proven_correct - outcome.float_correct) <= job.shard_count


def test_escrow_is_conserved_and_withdrawn(stack, outcome):
    escrow = JobEscrowClient(stack.employer_client(), stack.deployment.escrow)
    view = escrow.get_job(outcome.job_id)
    # every wei escrowed went to someone who withdrew it; nothing is left or owed
    assert escrow.total_escrowed() == outcome.deposit == escrow.total_withdrawn()
    assert sum(outcome.withdrawn.values()) == outcome.deposit
    assert outcome.escrow_balance == 0 and outcome.escrow_remaining == 0
    assert all(escrow.credit_of(n.address) == 0 for n in stack.running)
    # each node got exactly its stage rewards plus its shards' share of the bounty
    share, rest = divmod(view.bounty, view.shard_count)
    for node in stack.running:
        rewards = view.reward * sum(node.name in s.paid for s in outcome.stages)
        bounty = sum(share + (rest if shard == view.shard_count - 1 else 0)
                     for shard, who, _ in outcome.proofs if who == node.name)
        assert outcome.withdrawn.get(node.name, 0) == rewards + bounty


def test_api_shows_the_completed_job(stack, outcome):
    import time

    import httpx

    # the API's index follows the chain by polling (every 0.5 s): it may be a poll behind the
    # chain, which the outcome was read from, but not more than a few seconds
    deadline = time.monotonic() + 10
    while True:
        job = httpx.get(f"{stack.api_url}/api/jobs/{outcome.job_id}", timeout=30).json()
        if job["status"] == "complete" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert job["status"] == "complete"
    assert job["correct"] == outcome.proven_correct
    assert len(job["stages"]) == outcome.stage_count
