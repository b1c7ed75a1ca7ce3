"""A lazy node that copies another node's declaration earns nothing and is slashed; honest
nodes are paid. A declaration shows only one hash, bound to its node's address: a copy of it
cannot be opened."""

from __future__ import annotations

import pytest

from tests.workers.conftest import KEYS, node_logs, wait_for
from tests.workers.jobs import create_tiny_job
from zkpot.chain import ChainClient, JobEscrowClient, NodeRegistryClient, SlashReason, fetch_events
from zkpot.chain.clock import DevChainClock

pytestmark = pytest.mark.slow


def test_copied_declaration_is_slashed_and_unpaid(world, start_node):
    a, b = start_node(1), start_node(2)
    lazy_client = ChainClient(world.rpc_url, KEYS[3])
    lazy = JobEscrowClient(lazy_client, world.deployment.escrow)
    registry = NodeRegistryClient(lazy_client, world.deployment.registry)
    registry.register(registry.min_stake())
    stake_before = registry.stake_of(lazy_client.address)
    # C = 2: two honest declarations and the lazy node's copy fill the commit phase (2C - 1)
    job = create_tiny_job(world.rpc_url, KEYS[0], world.deployment, world.store, stages=1,
                          confirmations=2)

    def first_declaration():
        evs = [e for e in fetch_events(lazy_client, world.deployment, names=["StageDeclared"])
               if e["jobId"] == job.job_id]
        return evs[0] if evs else None

    seen = wait_for(first_declaration, 300, "an honest declaration", every=0.1, logs=node_logs(a, b))
    lazy.declare(job.job_id, 1, bytes(seen["commitment"]))

    wait_for(lambda: world.escrow().get_job(job.job_id).stages_done == 1, 300, "stage 1 final",
             logs=node_logs(a, b))
    # the honest nodes settle their own declarations (the job has no further stage)
    escrow = world.escrow()
    wait_for(lambda: escrow.credit_of(a.address) == escrow.credit_of(b.address) == job.reward, 120,
             "the honest nodes' rewards", logs=node_logs(a, b))
    # the copy was never opened: once the reveal phase is over, anyone settles it as slashed
    deadline = escrow.stage_result(job.job_id, 1).reveal_deadline
    DevChainClock(lazy_client).wait_until(deadline)
    receipt = JobEscrowClient(ChainClient(world.rpc_url, KEYS[0]), world.deployment.escrow).settle(
        job.job_id, lazy_client.address)
    slashed = receipt.event("DeclarationSlashed")
    assert slashed["node"] == lazy_client.address and slashed["reason"] == SlashReason.UNOPENED
    assert escrow.credit_of(lazy_client.address) == 0
    assert registry.stake_of(lazy_client.address) < stake_before
