"""A node SIGKILLed around its reveal resumes on restart: revealed once, ρ kept, everyone paid.

Anvil's automatic mining is paused so that a node's transactions wait in the mempool: the test
sees exactly which of them the node has sent (``txpool_content``), SIGKILLs the node's whole
worker group at that point, and only then lets the chain mine. No timing is guessed.
"""

from __future__ import annotations

from contextlib import contextmanager

import pytest

from tests.workers.conftest import KEYS, node_logs, wait_for
from tests.workers.jobs import create_tiny_job
from zkpot.chain import JobStatus, fetch_events
from zkpot.node.store import DECLARED, TRAINED

pytestmark = pytest.mark.slow


def rpc(world, method: str, *params):
    response = world.escrow().client.w3.provider.make_request(method, list(params))
    assert "error" not in response, f"{method}: {response['error']}"
    return response.get("result")


@contextmanager
def mining_paused(world):
    """Transactions stay pending until ``rpc(world, "evm_mine")``; automine again on exit."""
    rpc(world, "evm_setAutomine", False)
    try:
        yield
    finally:
        rpc(world, "evm_setAutomine", True)
        rpc(world, "evm_mine")  # what is still pending is mined now


def pending_calls(world, sender: str, name: str) -> list[dict]:
    """The arguments of ``sender``'s pending escrow calls to ``name``, by nonce."""
    escrow = world.escrow()
    out = []
    for address, by_nonce in rpc(world, "txpool_content")["pending"].items():
        if address.lower() != sender.lower():
            continue
        for _, tx in sorted(by_nonce.items(), key=lambda kv: int(kv[0])):
            if (tx.get("to") or "").lower() != escrow.address.lower():
                continue
            fn, args = escrow.contract.decode_function_input(tx["input"])
            if fn.fn_name == name:
                out.append(dict(args))
    return out


def events(world, job_id: int, name: str) -> list:
    return [e for e in fetch_events(world.escrow().client, world.deployment, names=[name])
            if e["jobId"] == job_id]


def declarations(world, job_id: int) -> list[tuple[int, str]]:
    return [(e["stage"], e["node"]) for e in events(world, job_id, "StageDeclared")]


def stages_done(world, job) -> int:
    return world.escrow().get_job(job.job_id).stages_done


def one_node_job(world, start_node):
    """Node 1 registered, workers not started, and a C = 1 job: the node's declaration closes
    each attempt's commit phase (2C - 1 = 1) and its opening alone finalises the stage."""
    a = start_node(1, workers=False)
    job = create_tiny_job(world.rpc_url, KEYS[0], world.deployment, world.store, stages=2,
                          confirmations=1)
    return a, job


def finish_and_check(world, job, a) -> None:
    """The node runs to the end of training: each stage final once, no declaration twice, the
    node paid for both stages once it settled."""
    a.group.start()
    wait_for(lambda: stages_done(world, job) == 2, 400, "the job's stages final", logs=node_logs(a))
    escrow = world.escrow()
    assert escrow.get_job(job.job_id).status == JobStatus.AWAITING_TEST_SET
    wait_for(lambda: escrow.credit_of(a.address) == 2 * job.reward, 120, "both rewards settled",
             logs=node_logs(a))
    decl = declarations(world, job.job_id)
    assert len(decl) == len(set(decl)) == 2
    assert sorted(e["stage"] for e in events(world, job.job_id, "StageFinalised")) == [1, 2]
    paid = sorted((e["stage"], e["node"]) for e in events(world, job.job_id, "DeclarationRewarded"))
    assert paid == [(1, a.address), (2, a.address)]


def test_node_killed_between_reveal_and_receipt_resumes_revealed_once(world, start_node):
    a, job = one_node_job(world, start_node)
    with mining_paused(world):
        a.group.start()
        wait_for(lambda: pending_calls(world, a.address, "declare"), 300,
                 "node 1's declaration in the mempool", every=0.1, logs=node_logs(a))
        rpc(world, "evm_mine")  # the declaration: the commit phase closes, the reveal opens
        sent = wait_for(lambda: pending_calls(world, a.address, "reveal"), 120,
                        "node 1's reveal in the mempool", every=0.05, logs=node_logs(a))
        # the reveal was sent and is not mined: SIGKILL the node before any receipt
        a.group.kill("chain")
        a.group.kill("compute0")
        assert stages_done(world, job) == 0
        secret = a.node.store.secret(job.job_id, 1, 0)
        assert secret is not None and secret.weights_file.exists()
        assert secret.status == DECLARED  # the reveal's confirmation was never recorded
        assert len(sent) == 1
        assert (sent[0]["jobId"], sent[0]["stage"]) == (job.job_id, 1)
        assert bytes(sent[0]["opening"]["rho"]) == secret.rho
        declared = [e for e in events(world, job.job_id, "StageDeclared") if e["node"] == a.address]
        assert len(declared) == 1 and declared[0]["commitment"] == secret.commitment
    # mining resumed: the reveal sent before the SIGKILL finalises stage 1
    wait_for(lambda: stages_done(world, job) == 1, 60, "stage 1 final from the pending reveal")
    [final] = events(world, job.job_id, "StageFinalised")
    assert final["finaliser"] == a.address and bytes(final["rho"]) == secret.rho

    finish_and_check(world, job, a)
    assert len([e for e in events(world, job.job_id, "StageRevealed") if e["stage"] == 1]) == 1


def test_node_killed_before_its_reveal_left_reveals_after_restart(world, start_node):
    a, job = one_node_job(world, start_node)
    with mining_paused(world):
        a.group.start()
        wait_for(lambda: pending_calls(world, a.address, "declare"), 300,
                 "node 1's declaration in the mempool", every=0.1, logs=node_logs(a))
        # SIGKILL with the declaration unmined: no reveal phase yet, so no reveal can have left
        a.group.kill("chain")
        a.group.kill("compute0")
        rpc(world, "evm_mine")
        assert pending_calls(world, a.address, "reveal") == []
        secret = a.node.store.secret(job.job_id, 1, 0)
        assert secret is not None and secret.status == TRAINED  # its receipt was never recorded
    assert stages_done(world, job) == 0 and (1, a.address) in declarations(world, job.job_id)

    a.group.start()  # the restarted node finds its declaration on chain and opens it
    wait_for(lambda: stages_done(world, job) == 1, 120, "stage 1 revealed by the restarted node",
             logs=node_logs(a))
    [final] = events(world, job.job_id, "StageFinalised")
    assert final["finaliser"] == a.address and bytes(final["rho"]) == secret.rho
    assert declarations(world, job.job_id).count((1, a.address)) == 1

    finish_and_check(world, job, a)
