"""Faults: SIGKILLed workers resume, Redis restarts, bad inputs are never trained."""

from __future__ import annotations

import time

import pytest

from tests.workers.conftest import KEYS, node_logs, wait_for, wait_for_stages
from tests.workers.jobs import TEST_SIZE, create_tiny_job
from zkpot.chain import fetch_events
from tests.workers.proxy import FlakyProxy
from zkpot.devnet import Redis

pytestmark = pytest.mark.slow


def stages_done(world, job) -> int:
    return world.escrow().get_job(job.job_id).stages_done


def declarations(world, job_id: int) -> list[tuple[int, str]]:
    return [(e["stage"], e["node"]) for e in fetch_events(world.escrow().client, world.deployment,
                                                          names=["StageDeclared"])
            if e["jobId"] == job_id]


def assert_both_paid(world, job, a, b, stages: int) -> None:
    """Both nodes paid for every stage once they settled (the last stage after training), and
    neither declared a stage twice."""
    escrow = world.escrow()
    wait_for(lambda: escrow.credit_of(a.address) == escrow.credit_of(b.address) == stages * job.reward,
             120, "both nodes' rewards settled", logs=node_logs(a, b))
    decl = declarations(world, job.job_id)
    assert len(decl) == len(set(decl)) == 2 * stages


def test_worker_killed_mid_training_resumes_and_is_paid(world, start_node):
    a, b = start_node(1), start_node(2)
    # stage 1 is large enough to be caught mid-way; C=2 with two nodes: both must finish it
    job = create_tiny_job(world.rpc_url, KEYS[0], world.deployment, world.store, stages=2,
                          confirmations=2, samples_per_stage=1500)
    wait_for(lambda: any(p.kind == "train" for p in a.node.store.progress()), 120,
             "node 1 training", every=0.05, logs=node_logs(a))
    a.group.kill("compute0")
    assert a.node.store.secret(job.job_id, 1, 0) is None  # killed before the stage was kept
    a.group.start("compute0")

    wait_for_stages(world, job, 2, declarers=2, timeout=400, logs=node_logs(a, b))
    assert_both_paid(world, job, a, b, 2)


def test_node_killed_after_declaring_keeps_rho_and_never_declares_twice(world, start_node):
    a, b = start_node(1), start_node(2)
    job = create_tiny_job(world.rpc_url, KEYS[0], world.deployment, world.store, stages=2,
                          confirmations=2)
    wait_for(lambda: (1, a.address) in declarations(world, job.job_id), 300,
             "node 1's declaration of stage 1", every=0.1, logs=node_logs(a, b))
    a.group.kill("chain")
    a.group.kill("compute0")
    # what the chain holds is what the node kept on disk: rho and rand survived the SIGKILL
    secret = a.node.store.secret(job.job_id, 1, 0)
    assert secret is not None and secret.weights_file.exists()
    declared = [e for e in fetch_events(world.escrow().client, world.deployment,
                                        names=["StageDeclared"]) if e["node"] == a.address][0]
    assert declared["commitment"] == secret.commitment
    a.group.start()

    wait_for_stages(world, job, 2, declarers=2, timeout=400, logs=node_logs(a, b))
    assert_both_paid(world, job, a, b, 2)


def test_redis_restarted_mid_job_work_resumes(world, start_node, tmp_path):
    own = Redis(log_dir=tmp_path).start()
    world.redis_url = own.url
    try:
        a, b = start_node(1), start_node(2)
        job = create_tiny_job(world.rpc_url, KEYS[0], world.deployment, world.store, stages=3,
                              confirmations=2)
        wait_for_stages(world, job, 1, declarers=2, timeout=300, logs=node_logs(a, b))
        own.stop()  # no persistence: every queued message is lost
        time.sleep(3)
        own.start()
        wait_for_stages(world, job, 3, declarers=2, timeout=400, logs=node_logs(a, b))
        assert_both_paid(world, job, a, b, 3)
    finally:
        own.stop()


def test_rpc_briefly_down_tasks_retry_then_the_job_finishes(world, start_node, anvil):
    proxy = FlakyProxy(anvil.port).up()
    world.node_rpc_url = proxy.url
    try:
        a, b = start_node(1), start_node(2)
        job = create_tiny_job(world.rpc_url, KEYS[0], world.deployment, world.store, stages=2,
                              confirmations=2)
        wait_for(lambda: (1, a.address) in declarations(world, job.job_id), 300,
                 "a first declaration", every=0.1, logs=node_logs(a, b))
        proxy.down()
        wait_for(lambda: any("unreachable" in p.read_text(errors="replace")
                             for p in node_logs(a, b)), 60, "the nodes to notice the outage")
        time.sleep(4)
        proxy.up()
        wait_for_stages(world, job, 2, declarers=2, timeout=400, logs=node_logs(a, b))
        assert_both_paid(world, job, a, b, 2)
    finally:
        proxy.down()


@pytest.mark.parametrize("hostile, reason", [
    ("verifier", "not an EzklAccuracyVerifier"), ("samples", "its manifest holds"),
])
def test_a_job_whose_accuracy_proof_could_never_be_paid_is_never_trained(world, start_node, hostile, reason):
    # found by an attack: an employer who names a contract that verifies nothing (here the
    # registry), or more test samples than its shards hold, reclaims the bounty after honest training
    a = start_node(1)
    terms = {"verifier": world.deployment.registry} if hostile == "verifier" else {"samples": 2 * TEST_SIZE}
    job = create_tiny_job(world.rpc_url, KEYS[0], world.deployment, world.store, stages=1, confirmations=1,
                          **terms)
    why = wait_for(lambda: a.node.store.get(f"skip:{job.job_id}:1"), 200, "the node to skip the job",
                   logs=node_logs(a))
    assert reason in why, why
    assert declarations(world, job.job_id) == [] and a.node.store.secret(job.job_id, 1, 0) is None


def test_chunk_that_does_not_match_its_cid_is_never_trained(world, start_node):
    a = start_node(1)
    job = create_tiny_job(world.rpc_url, KEYS[0], world.deployment, world.store, stages=1,
                          confirmations=1, corrupt_chunk=1)
    reason = wait_for(lambda: a.node.store.get(f"skip:{job.job_id}:1"), 200,
                      "the node to skip the stage", logs=node_logs(a))
    assert "does not match" in reason or "mismatch" in reason.lower()
    log_file = a.group.log_dir / f"node-{a.node.identity.slug[:10]}-compute0.log"
    # the skip is recorded before the task logs it: wait for the line
    log = wait_for(lambda: "not trained" in (text := log_file.read_text()) and text, 30,
                   "the skip's log line", logs=node_logs(a))
    assert job.chunk_cids[0] in log
    assert declarations(world, job.job_id) == []
    assert a.node.store.secret(job.job_id, 1, 0) is None
