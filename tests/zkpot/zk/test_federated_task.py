"""A FederatedTask on Anvil, checking proofs with the real EzklAccuracyVerifier, pays no update
of a degenerate model: constant outputs, zero, a tiny last layer, ties. Each proves 0."""

from __future__ import annotations

import pytest

from zkpot import zk
from zkpot.chain import ChainClient, ContractError
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


def submit(anvil, tasks: FederatedTaskClient, task_id: int, key: str, proof: zk.AccuracyProof,
           cid: str):
    """Commit to the update, then reveal it with its proof, as a participant does."""
    participant = FederatedTaskClient(ChainClient(anvil.rpc_url, key), tasks.address)
    address = participant.client.address
    participant.commit_update(task_id, 0, update_commitment(task_id, 0, address,
                                                            proof.model_commitment, cid))
    return participant.submit_update(task_id, 0, [proof.proof], [proof.instances], cid)


@pytest.mark.parametrize("index,name", list(enumerate(DEGENERATE)))
def test_degenerate_models_are_refused(anvil, task, circuit, test_set, index, name):
    X, y = test_set
    proof = zk.prove_accuracy(circuit, DEGENERATE[name], X[:N], y[:N])
    assert proof.correct == 0
    tasks, task_id = task
    with pytest.raises(ContractError) as refused:
        submit(anvil, tasks, task_id, dev_private_keys(8)[2 + index], proof, f"bafy-{index}")
    assert refused.value.name == "AccuracyBelowThreshold"


def test_a_model_that_gets_samples_right_is_paid(anvil, task, proof):
    assert proof.correct >= 1
    tasks, task_id = task
    receipt = submit(anvil, tasks, task_id, dev_private_keys(8)[7], proof, "bafy-honest")
    assert receipt.event("UpdateAccepted")["correctCount"] == proof.correct
