"""A lazy node that copies another node's declaration earns nothing; honest nodes are paid."""

from __future__ import annotations

import pytest

from tests.workers.conftest import KEYS, node_logs, wait_for
from tests.workers.jobs import create_tiny_job
from zkpot.chain import (ChainClient, JobEscrowClient, NodeRegistryClient, fetch_events)

pytestmark = pytest.mark.slow


def test_copied_declaration_is_slashed_and_unpaid(world, start_node):
    a, b = start_node(1), start_node(2)
    lazy_client = ChainClient(world.rpc_url, KEYS[3])
    lazy = JobEscrowClient(lazy_client, world.deployment.escrow)
    registry = NodeRegistryClient(lazy_client, world.deployment.registry)
    registry.register(registry.min_stake())
    stake_before = registry.stake_of(lazy_client.address)
    # C=3: the two honest nodes need a third declaration, which the lazy node supplies by copying
    job = create_tiny_job(world.rpc_url, KEYS[0], world.deployment, world.store, stages=1,
                          confirmations=3)

    def first_declaration():
        evs = [e for e in fetch_events(lazy_client, world.deployment, names=["StageDeclared"])
               if e["jobId"] == job.job_id]
        return evs[0] if evs else None

    seen = wait_for(first_declaration, 300, "an honest declaration", every=0.1,
                    logs=node_logs(a, b))
    lazy.declare(job.job_id, 1, seen["weightsHash"], seen["modelCommitment"], seen["commitment"],
                 seen["rand"])

    wait_for(lambda: world.escrow().get_job(job.job_id).stages_done == 1, 300, "stage 1 final",
             logs=node_logs(a, b))
    escrow = world.escrow()
    assert escrow.credit_of(a.address) == escrow.credit_of(b.address) == job.reward
    assert escrow.credit_of(lazy_client.address) == 0
    assert registry.stake_of(lazy_client.address) < stake_before
    slashed = [e["node"] for e in fetch_events(lazy_client, world.deployment,
                                               names=["DeclarationSlashed"])]
    assert slashed == [lazy_client.address]
