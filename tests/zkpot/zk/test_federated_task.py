"""A FederatedTask on Anvil, checking proofs with the real EzklAccuracyVerifier, pays no update
of a degenerate model: constant outputs, zero, a tiny last layer, ties. Each proves 0."""

from __future__ import annotations

import pytest

from zkpot import zk
from zkpot.chain import ChainClient, ContractError
from zkpot.chain.clock import DevChainClock
from zkpot.devnet import dev_private_keys
from zkpot.federated.chain import FederatedTaskClient, TaskParams
from zkpot.federated.commitment import update_commitment
from zkpot.zk.evm import deploy_accuracy_verifier

from .conftest import DEGENERATE, N, tiny_model

pytestmark = pytest.mark.zk


@pytest.fixture(scope="module")
def task(anvil, client, circuit, model, test_set):
    """A task over shard T, threshold 1 correct sample, open to 8 updates."""
    X, y = test_set
    verifier = deploy_accuracy_verifier(client, circuit, kind="single")
    tasks = FederatedTaskClient.deploy(client)
    now = client.w3.eth.get_block("latest")["timestamp"]
    task_id = tasks.create_task(TaskParams(
        verifier=verifier, test_set_commitments=[zk.test_set_commitment(circuit, X[:N], y[:N])],
        manifest_cid="bafy-manifest", samples=N, threshold=1, rounds=1, max_updates_per_round=8,
        reward_per_update=10**12, encryption_key=b"\x01" * 32,
        initial_model_commitment=zk.weights_commitment(circuit, tiny_model(5).state_dict()),
        initial_model_cid="bafy-initial", deadline=now + 24 * 3600))
    return tasks, task_id


@pytest.fixture(scope="module")
def revealing(anvil, task, circuit, test_set, proof):
    """Each degenerate model's proof and an honest one, committed in round 0's commit phase as
    participants do; then the chain's clock moves to the round's reveal phase."""
    X, y = test_set
    tasks, task_id = task
    entries = {name: (dev_private_keys(8)[2 + index], zk.prove_accuracy(circuit, DEGENERATE[name], X[:N], y[:N]),
                      f"bafy-{index}") for index, name in enumerate(DEGENERATE)}
    entries["honest"] = (dev_private_keys(8)[7], proof, "bafy-honest")
    for key, made, cid in entries.values():
        participant = FederatedTaskClient(ChainClient(anvil.rpc_url, key), tasks.address)
        participant.commit_update(task_id, 0, update_commitment(task_id, 0, participant.client.address,
                                                                made.model_commitment, cid))
    DevChainClock(tasks.client).wait_until(tasks.round_phases(task_id).commit_end)
    return entries


def reveal(anvil, tasks: FederatedTaskClient, task_id: int, entry):
    """Reveal a committed update with its proof."""
    key, made, cid = entry
    participant = FederatedTaskClient(ChainClient(anvil.rpc_url, key), tasks.address)
    return participant.submit_update(task_id, 0, [made.proof], [made.instances], cid)


@pytest.mark.parametrize("name", list(DEGENERATE))
def test_degenerate_models_are_refused(anvil, task, revealing, name):
    assert revealing[name][1].correct == 0
    tasks, task_id = task
    with pytest.raises(ContractError) as refused:
        reveal(anvil, tasks, task_id, revealing[name])
    assert refused.value.name == "AccuracyBelowThreshold"


def test_a_model_that_gets_samples_right_is_paid(anvil, task, revealing, proof):
    assert proof.correct >= 1
    tasks, task_id = task
    receipt = reveal(anvil, tasks, task_id, revealing["honest"])
    assert receipt.event("UpdateAccepted")["correctCount"] == proof.correct
