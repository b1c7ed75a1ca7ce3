"""A declaration that arrives after C agreeing ones is too late, not an error: the escrow's
``AgreementReached`` is read as "nothing to do", the secret is marked unused, nothing retries."""

from __future__ import annotations

from tests.workers.conftest import KEYS
from tests.workers.jobs import create_tiny_job
from zkpot.hashing import keccak
from zkpot.node import training
from zkpot.node.store import DECLARED, UNUSED


def _keep_secret(node, job_id: int, stage: int) -> None:
    """The secret node training would keep: same weights for every node, own ρ and rand."""
    rho, rand = keccak(b"rho" + node.identity.address.encode()), training.new_rand()
    node.store.save_trained(job_id, stage, weights_hash=keccak(b"S1"), model_commitment=0,
                            rho=rho, rand=rand,
                            commitment=training.commit(rho, rand, node.identity.address),
                            weights=b"S1")


def test_declaring_after_agreement_is_too_late_not_an_error(world, start_node):
    first, late = start_node(1, workers=False).node, start_node(2, workers=False).node
    job = create_tiny_job(world.rpc_url, KEYS[0], world.deployment, world.store, stages=2,
                          confirmations=1)
    for node in (first, late):
        _keep_secret(node, job.job_id, 1)
    # the late node read the job before the first node's declaration was mined (a race)
    before = late.chain.job(job.job_id)
    assert first.declare(job.job_id, 1).startswith("declared")
    late.chain.job = lambda job_id: before

    outcome = late.declare(job.job_id, 1)               # the escrow reverts AgreementReached

    assert "too late" in outcome and "AgreementReached" in outcome
    assert late.store.secret(job.job_id, 1).status == UNUSED
    assert late.chain.declared_stage(job.job_id) == 0
    assert first.store.secret(job.job_id, 1).status == DECLARED
    del late.chain.job                                  # the true chain state again
    assert [s for s in late.plan().steps if s.job_id == job.job_id] == []
    assert late.declare(job.job_id, 1).startswith("too late")   # a redelivery sends nothing
