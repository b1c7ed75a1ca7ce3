"""Three real nodes finish a real job on Anvil through Celery workers and Redis."""

from __future__ import annotations

import pytest

from tests.workers.conftest import node_logs, wait_for
from tests.workers.jobs import create_tiny_job
from zkpot.chain import JobStatus

pytestmark = pytest.mark.slow


def credited(world, nodes) -> dict[str, int]:
    escrow = world.escrow()
    return {n.address: escrow.credit_of(n.address) for n in nodes}


def test_three_nodes_finish_a_job_with_two_confirmations(world, start_node):
    nodes = [start_node(i) for i in (1, 2, 3)]
    job = create_tiny_job(world.rpc_url, _employer(), world.deployment, world.store,
                          stages=2, confirmations=2)
    escrow = world.escrow()

    view = wait_for(lambda: (v := escrow.get_job(job.job_id)).stages_done == job.stages and v,
                    timeout=400, what="both stages final", logs=node_logs(*nodes))

    assert view.status == JobStatus.AWAITING_TEST_SET
    credits = credited(world, nodes)
    # each stage paid exactly C declarations; every paid node earned whole stage rewards
    assert sum(credits.values()) == job.stages * job.confirmations * job.reward
    assert all(c % job.reward == 0 for c in credits.values())
    # the final weights the chain recorded are the ones the stage function produces
    finals = [e for e in _events(world) if e.name == "StageFinalised"]
    assert [e["stage"] for e in finals] == [1, 2]
    assert world.store.has(finals[-1]["cid"])
    # exactly C declarations per stage were accepted, none twice from one node
    declared = [(e["stage"], e["node"]) for e in _events(world) if e.name == "StageDeclared"]
    assert len(declared) == len(set(declared)) == job.stages * job.confirmations
    # the nodes' chain view reads the final stage's paid nodes, from which each shard's
    # designated prover is chosen, as the contract records them
    finalists = nodes[0].node.chain.finalists(job.job_id, job.stages)
    assert len(finalists) == view.finalists == job.confirmations
    assert all(escrow.declaration_of(job.job_id, a).finalist for a in finalists)


def _employer() -> str:
    from tests.workers.conftest import KEYS

    return KEYS[0]


def _events(world):
    from zkpot.chain import fetch_events

    return fetch_events(world.escrow().client, world.deployment)
