"""A declaration that arrives after the commit phase closed is too late, not an error: the
escrow's ``CommitPhaseClosed`` is read as "nothing to do", the secret is marked unused, nothing
retries."""

from __future__ import annotations

from tests.workers.conftest import KEYS
from tests.workers.jobs import create_tiny_job
from zkpot.hashing import keccak
from zkpot.node import training
from zkpot.node.store import DECLARED, UNUSED


def _keep_secret(node, job_id: int, stage: int) -> None:
    """The secret node training would keep: same weights for every node, own ρ and rand."""
    result = training.TrainedStage(weights=b"S1", weights_hash=keccak(b"S1"), model_commitment=0,
                                   rho=keccak(b"rho" + node.identity.address.encode()))
    rand = training.new_rand()
    node.store.save_trained(job_id, stage, 0, weights_hash=result.weights_hash, model_commitment=0,
                            rho=result.rho, rand=rand,
                            commitment=training.commit(result, rand, node.identity.address), weights=b"S1")


def test_declaring_after_the_commit_phase_closed_is_too_late_not_an_error(world, start_node):
    first, late = start_node(1, workers=False).node, start_node(2, workers=False).node
    # C = 1: the commit phase takes 2C - 1 = 1 declaration
    job = create_tiny_job(world.rpc_url, KEYS[0], world.deployment, world.store, stages=2,
                          confirmations=1)
    for node in (first, late):
        _keep_secret(node, job.job_id, 1)
    # the late node read the attempt before the first node's declaration was mined (a race)
    before = late.chain.attempt(job.job_id)
    assert first.declare(job.job_id, 1, 0).startswith("declared")
    late.chain.attempt = lambda job_id: before

    outcome = late.declare(job.job_id, 1, 0)            # the escrow reverts CommitPhaseClosed

    assert "too late" in outcome and "CommitPhaseClosed" in outcome
    assert late.store.secret(job.job_id, 1, 0).status == UNUSED
    assert late.chain.my_declaration(job.job_id).stage == 0
    assert first.store.secret(job.job_id, 1, 0).status == DECLARED
    del late.chain.attempt                              # the true chain state again
    assert [s for s in late.plan().steps if s.job_id == job.job_id] == []
    assert late.declare(job.job_id, 1, 0).startswith("too late")   # a redelivery sends nothing
