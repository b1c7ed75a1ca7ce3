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
from demo.job import run_job
from demo.run import (DEMO_SAMPLES, DEMO_SHARD_SIZE, SHORT_STAGE_FLOPS, SHORT_THETA,
                            demo_request)
from demo.stack import CircuitChoice, DemoStack
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
    # the proven count is the certified model's, which the report shows; the float count, shown
    # beside it, is within a sample per shard of it
    assert outcome.reference_correct == outcome.proven_correct
    assert abs(outcome.proven_correct - outcome.float_correct) <= job.shard_count
    assert outcome.audit_mismatches == [] and outcome.audit_checks >= 8
    report = "\n".join(outcome.report())
    assert f"certified model on the {outcome.samples} test samples: {outcome.proven_correct} correct" in report
    assert "float model, not certified" in report and "all matched" in report


def test_the_nodes_proved_in_prove_workers_that_never_loaded_torch(stack, outcome):
    """Proofs run in each node's prove worker, a process that never trains: its memory is the
    proof's alone (docs/zk.md). Whichever node proved, no prove worker has torch mapped."""
    from pathlib import Path

    assert outcome.proofs
    logs = ""
    for node in stack.running:
        maps = Path(f"/proc/{node.group.pid('prove')}/maps").read_text()
        assert "libtorch" not in maps, f"{node.name}'s prove worker loaded torch"
        (log,) = node.settings.path("logs").glob("node-*-prove.log")
        logs += log.read_text(errors="replace")
    assert "proved 1 shard(s)" in logs


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


def _audit(stack, outcome, **local):
    from zkpot.audit import audit_job
    from zkpot.storage import open_store

    settings = stack.settings()
    return audit_job(settings, stack.employer_client(), stack.deployment, outcome.job_id,
                     open_store(settings), **local)


def test_job_verify_recomputes_everything_the_chain_holds(stack, outcome):
    """The employer's audit: h_W, every c_T, every accepted proof (off-chain, against the
    recomputed commitments), the reference count and the verifier all match the chain."""
    audit = _audit(stack, outcome)
    assert audit.matched, [(c.what, c.chain, c.recomputed) for c in audit.mismatches]
    checked = {c.what for c in audit.checks}
    for what in ("manifest hash", "H(S_t), the final weights hash", "h_W of the certified model of S_t",
                 "shard 0: c_T", "shard 0: accepted proof verifies off-chain (recomputed h_W, c_T)",
                 "shard 0: proven count = reference count", "correct count (escrow) = reference count",
                 "outcome", f"verifier {stack.deployment.verifier}: vka hash",
                 f"verifier {stack.deployment.verifier}: srs hash"):
        assert what in checked, what
    assert sum(audit.reference_counts) == outcome.proven_correct


def test_job_verify_reports_a_swapped_model(stack, outcome):
    from zkpot.storage import open_store

    events = fetch_events(stack.employer_client(), stack.deployment, names=["StageFinalised"])
    earlier = next(e["cid"] for e in events if e["jobId"] == outcome.job_id and e["stage"] == 1)
    other = open_store(stack.settings()).get(earlier)          # S_1 in place of S_t
    audit = _audit(stack, outcome, model=other, verifier=False)
    bad = {c.what for c in audit.mismatches}
    assert {"H(S_t), the final weights hash", "h_W of the certified model of S_t",
            "h_W declared by the last stage"} <= bad
    assert any("accepted proof verifies" in what for what in bad)


def test_job_verify_reports_a_swapped_test_set(stack, outcome):
    import numpy as np

    from zkpot.audit import posted_shards
    from zkpot.datasets import Dataset
    from zkpot.testset import decode_shard

    client = stack.employer_client()
    events = fetch_events(client, stack.deployment, names=["TestShardPublished"])
    posted = posted_shards(JobEscrowClient(client, stack.deployment.escrow), events, outcome.job_id)
    first = decode_shard(posted[0])
    relabelled = Dataset(first.x, np.roll(first.labels, 1), first.num_classes, first.x.shape[1:])
    audit = _audit(stack, outcome, test_set=relabelled, verifier=False)
    bad = {c.what for c in audit.mismatches}
    assert {"shard 0: data hash", "shard 0: c_T"} <= bad
    assert "shard 0: accepted proof verifies off-chain (recomputed h_W, c_T)" in bad


def test_zkpot_job_verify_prints_what_matched(stack, outcome):
    import os
    import subprocess
    import sys

    from zkpot.config import PROJECT_ROOT

    env = {k: v for k, v in os.environ.items() if not k.startswith("ZKPOT_")}
    env.update(stack.env(stack.root), PYTHONPATH=str(PROJECT_ROOT), COLUMNS="220")
    done = subprocess.run([sys.executable, "-m", "cli", "job", "verify", str(outcome.job_id),
                           "--no-verifier"], env=env, text=True, capture_output=True, timeout=600,
                          cwd=PROJECT_ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "all" in done.stdout and "checks match the chain" in done.stdout
    assert "MISMATCH" not in done.stdout
    assert f"reference count of the certified model: {outcome.proven_correct}" in done.stdout
