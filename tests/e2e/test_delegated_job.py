"""The demo's flow on a smaller job, with real everything: Anvil, Redis, the API in dev mode
(uvicorn), three nodes as Celery worker processes, ezkl proofs and the ezkl verifier contract.

The employer posts through the API, the nodes train, declare (a hidden commitment each) and
open their declarations until C agree on every stage, the employer posts the test set on chain
through the API, the nodes prove the final model's accuracy and the verifier contract accepts
it, the nodes settle their rewards and bounty shares, and everyone withdraws.
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


def test_every_paid_declaration_opened_the_agreed_result(stack, outcome):
    """ρ agreed: each paid node's opening carries the stage's finalised ρ and H(S), and opens
    the commitment it declared, bound to its own address."""
    client = stack.employer_client()
    escrow = client.contract("JobEscrow", stack.deployment.escrow)
    events = fetch_events(client, stack.deployment)
    paid = {(e["stage"], e["node"]) for e in events if e.name == "DeclarationRewarded"}
    final = {e["stage"]: e for e in events if e.name == "StageFinalised"}
    declared = {(e["stage"], e["node"], e["attempt"]): e["commitment"] for e in events if e.name == "StageDeclared"}
    opened = 0
    for e in events:
        if e.name != "StageRevealed" or (e["stage"], e["node"]) not in paid:
            continue
        f = final[e["stage"]]
        assert (e["rho"], e["weightsHash"], e["attempt"]) == (f["rho"], f["weightsHash"], f["attempt"])
        assert 1 <= e["position"] <= outcome.confirmations
        _, args = escrow.decode_function_input(client.w3.eth.get_transaction(e.tx_hash)["input"])
        o = args["opening"]
        assert commitment(o["rho"], o["weightsHash"], o["modelCommitment"], o["rand"], e["node"]) == \
            declared[(e["stage"], e["node"], e["attempt"])]
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
    # each node got exactly its stage rewards plus, for the last stage's paid nodes, an equal
    # share of the bounty (the rounding remainder to the C-th opening), whoever sent the proofs
    events = fetch_events(stack.employer_client(), stack.deployment)
    last = outcome.stages[-1]
    shares = {e["node"]: e["amount"] for e in events if e.name == "BountyPaid"}
    names = {n.address: n.name for n in stack.running}
    assert sorted(names[a] for a in shares) == sorted(last.paid) and sum(shares.values()) == view.bounty
    assert sorted(shares.values())[:-1] == [view.bounty // view.confirmations] * (view.confirmations - 1)
    for node in stack.running:
        rewards = view.reward * sum(node.name in s.paid for s in outcome.stages)
        assert outcome.withdrawn.get(node.name, 0) == rewards + shares.get(node.address, 0)


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
