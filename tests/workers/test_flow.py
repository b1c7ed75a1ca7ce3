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
    # C = 2 with three nodes: every attempt's commit phase closes by count (2C - 1 = 3)
    nodes = [start_node(i) for i in (1, 2, 3)]
    job = create_tiny_job(world.rpc_url, _employer(), world.deployment, world.store,
                          stages=2, confirmations=2)
    escrow = world.escrow()

    view = wait_for(lambda: (v := escrow.get_job(job.job_id)).stages_done == job.stages and v,
                    timeout=400, what="both stages final", logs=node_logs(*nodes))
    assert view.status == JobStatus.AWAITING_TEST_SET
    # the nodes settle their declarations (the last stage's once training is over)
    wait_for(lambda: escrow.get_job(job.job_id).owed == 0, 180, "every reward settled",
             logs=node_logs(*nodes))
    credits = credited(world, nodes)
    # each stage paid exactly C declarations; every paid node earned whole stage rewards
    assert sum(credits.values()) == job.stages * job.confirmations * job.reward
    assert all(c % job.reward == 0 for c in credits.values())
    # the final weights the chain recorded are the ones the stage function produces
    finals = [e for e in _events(world) if e.name == "StageFinalised"]
    assert [e["stage"] for e in finals] == [1, 2]
    assert world.store.has(finals[-1]["cid"])
    # every node declared every stage once; none was slashed
    declared = [(e["stage"], e["node"]) for e in _events(world) if e.name == "StageDeclared"]
    assert len(declared) == len(set(declared)) == job.stages * len(nodes)
    assert not [e for e in _events(world) if e.name == "DeclarationSlashed"]
    # the nodes' chain view reads the last stage's paid nodes (who share the bounty and from
    # whom each shard's designated prover is chosen) as the contract ranks them
    finalists = nodes[0].node.chain.finalists(job.job_id, job.stages, job.confirmations)
    assert len(finalists) == job.confirmations
    assert all(1 <= escrow.declaration_of(job.job_id, a).position <= job.confirmations for a in finalists)


def _employer() -> str:
    from tests.workers.conftest import KEYS

    return KEYS[0]


def _events(world):
    from zkpot.chain import fetch_events

    return fetch_events(world.escrow().client, world.deployment)
