"""A real federation on Anvil: real ezkl proofs, the real verifier, the FederatedTask contract.

Four participants on a non-IID split of digits; one flips labels, one submits random weights.
One round keeps it to a few minutes. A second task over the same test set replays accepted
proofs (public calldata) to show what a copier gets: nothing, even when its copy is mined first.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from zkpot.chain.errors import ContractError
from zkpot.config import Settings
from zkpot.devnet import dev_private_keys
from zkpot.federated.commitment import update_commitment
from zkpot.federated.crypto import MAGIC as ENVELOPE_MAGIC, decrypt_update, encrypt_update, update_aad
from zkpot.federated.federation import FederationConfig, run_federation
from zkpot.federated.local import Behaviour, random_state
from zkpot.federated.participant import fetch_manifest
from zkpot.federated.updates import decode_state, encode_state
from zkpot.storage import LocalStore

pytestmark = [pytest.mark.slow, pytest.mark.zk]

CONFIG = FederationConfig(participants=4, rounds=1)


class RecordingStore(LocalStore):
    """A local store that remembers every object put into it."""

    def __init__(self, root):
        super().__init__(root)
        self.puts: list[str] = []

    def put(self, data: bytes) -> str:
        cid = super().put(data)
        self.puts.append(cid)
        return cid


@pytest.fixture(scope="module")
def fl_settings(tmp_path_factory, circuit_cache) -> Settings:
    return Settings.from_env(environ={}, state_dir=tmp_path_factory.mktemp("fl-state"),
                             circuit_dir=circuit_cache)


@pytest.fixture(scope="module")
def store(fl_settings) -> RecordingStore:
    return RecordingStore(fl_settings.store_dir)


@pytest.fixture(scope="module")
def report(anvil, fl_settings, store):
    return run_federation(CONFIG, fl_settings, anvil.rpc_url, dev_private_keys(CONFIG.participants + 1), store)


def outcomes_by(report, behaviour):
    return [o for o in report.outcomes[0] if o.behaviour is behaviour]


def test_honest_updates_are_accepted(report):
    honest = outcomes_by(report, Behaviour.honest)
    assert len(honest) == 2
    assert all(o.accepted and o.proven_correct >= report.threshold for o in honest)
    # each was committed in its author's name, then revealed; the commitment is spent
    task = report.employer.task_client
    for o in honest:
        assert o.commit_gas_used and o.commit_gas_used < 100_000
        assert task.committed_update(report.task_id, 0, o.participant) == (b"\x00" * 32, 0)


@pytest.mark.parametrize("attack", [Behaviour.label_flip, Behaviour.random_weights])
def test_attackers_cannot_get_an_update_accepted(report, attack):
    (outcome,) = outcomes_by(report, attack)
    assert not outcome.accepted
    assert outcome.proven_correct < report.threshold
    # they try anyway: the contract refuses the proof's count, or no proof exists at all
    assert outcome.refusal == "AccuracyBelowThreshold" or outcome.refusal.startswith("no proof")


def test_only_honest_updates_are_aggregated(report):
    aggregated = {r.accepted.participant for r in report.rounds[0].aggregated}
    honest = {o.participant for o in outcomes_by(report, Behaviour.honest)}
    assert aggregated == honest
    assert report.rounds[0].rejected == []


def test_rewards_follow_proven_counts(report):
    for o in report.outcomes[0]:
        expected = CONFIG.reward_per_update * o.proven_correct // report.test_samples if o.accepted else 0
        assert report.credits[o.participant] == expected


def test_round_closes_with_the_aggregated_model(report):
    task = report.employer.task_client
    commitment, cid = task.global_model(report.task_id, 1)
    assert (commitment, cid) == (report.rounds[0].model_commitment, report.rounds[0].model_cid)
    assert task.get_task(report.task_id).status.name == "COMPLETED"


def test_zkpot_global_model_beats_plain_fedavg_poisoned_by_the_attackers(report):
    print(report.summary())
    assert report.zkpot_accuracy > report.plain_fedavg_accuracy
    assert report.zkpot_accuracy > report.initial_accuracy


def test_participants_upload_only_encrypted_weights_never_their_data(report, store):
    manifest = fetch_manifest(report.employer.task_client, store, report.task_id)
    test_chunk = manifest.test_set_cid
    keys = report.employer.keys
    expected_shapes = {k: tuple(v.shape) for k, v in report.employer.model_factory().state_dict().items()}
    uploads = {cid: o for o in report.outcomes[0] for cid in o.uploaded}
    assert uploads and set(uploads) <= set(store.puts)
    for participant in report.participants:
        rows = [np.ascontiguousarray(x, dtype="<f4").tobytes() for x in participant.X]
        for cid in store.puts:
            if cid == test_chunk:
                continue  # the employer's public test set, disjoint from private data
            blob = store.get(cid)
            assert not any(row in blob for row in rows), f"a private sample is in {cid}"
    for cid, outcome in uploads.items():
        envelope = store.get(cid)
        assert envelope.startswith(ENVELOPE_MAGIC)
        plain = decrypt_update(keys, envelope, update_aad(report.task_id, 0, outcome.participant))
        state = decode_state(plain)
        # the plaintext is exactly the model's parameters: nothing else travels with them
        assert {k: tuple(v.shape) for k, v in state.items()} == expected_shapes
        assert plain == encode_state(state)


@pytest.fixture(scope="module")
def second_task(report, anvil):
    """A second task over the same test set: accepted proofs of task 1 are public calldata."""
    employer = report.employer
    initial = employer.global_state(report.task_id, 0)
    task_id = employer.create_task(CONFIG.spec(), report.data.test, threshold=report.threshold, rounds=1,
                                   max_updates_per_round=4, reward_per_update=CONFIG.reward_per_update,
                                   deadline=2**40, verifier=employer.task_client.get_task(report.task_id).verifier,
                                   initial_state=initial)
    accepted = employer.task_client.accepted_updates(report.task_id, 0)
    return task_id, {a.participant: a for a in accepted}


def commit_to(client, task_id: int, model_commitment: int, cid: str):
    """Commit in the client's own name to the update (model commitment, CID) it will reveal."""
    commitment = update_commitment(task_id, 0, client.client.address, model_commitment, cid)
    assert client.update_commitment(task_id, 0, client.client.address, model_commitment, cid) == commitment
    return client.commit_update(task_id, 0, commitment)


def send_copy(copier, fn_args, tip_gwei: int = 1000) -> str:
    """The copier sends calldata it saw pending, with a higher tip and no gas estimate (a real
    front-runner does not care that the estimate would revert)."""
    client = copier.task_client.client
    fn = client.contract("FederatedTask", copier.task_client.address).functions.submitUpdate(*fn_args)
    tx = fn.build_transaction({"from": client.address, "gas": 8_000_000, "chainId": client.chain_id,
                               "nonce": client.w3.eth.get_transaction_count(client.address, "pending"),
                               "maxFeePerGas": tip_gwei * 10**9, "maxPriorityFeePerGas": tip_gwei * 10**9})
    return client.w3.eth.send_raw_transaction(client.account.sign_transaction(tx).raw_transaction).to_0x_hex()


def wait_pending(w3, count: int, timeout: float = 60.0) -> None:
    give_up = time.monotonic() + timeout
    while int(str(w3.provider.make_request("txpool_status", [])["result"]["pending"]), 0) < count:
        assert time.monotonic() < give_up, "the transaction never reached the mempool"
        time.sleep(0.05)


def test_copied_reveal_earns_nothing_even_mined_first(report, anvil, second_task, store):
    task_id, accepted = second_task
    owner, copier = report.participants[0], report.participants[2]
    original = accepted[owner.address]
    proofs, instances = owner.task_client.submitted_proofs(original.tx_hash)
    state = {r.accepted.participant: r.state for r in report.rounds[0].aggregated}[owner.address]
    cid = store.put(encrypt_update(report.employer.keys.public, encode_state(state),
                                   update_aad(task_id, 0, owner.address)))
    commit_to(owner.task_client, task_id, original.model_commitment, cid)
    assert [c.participant for c in owner.task_client.unrevealed_commitments(task_id, 0)] == [owner.address]

    # the owner's reveal waits in the mempool; the copier sees it and sends the same calldata
    # with a higher tip, so the copy is mined first, in the same block
    w3 = owner.task_client.client.w3
    w3.provider.make_request("evm_setAutomine", [False])
    try:
        with ThreadPoolExecutor(1) as pool:
            honest = pool.submit(owner.task_client.submit_update, task_id, 0, proofs, instances, cid)
            wait_pending(w3, 1)
            copy_hash = send_copy(copier, (task_id, 0, proofs, instances, cid))
            wait_pending(w3, 2)
            w3.provider.make_request("evm_mine", [])
            receipt = honest.result(timeout=120)
    finally:
        w3.provider.make_request("evm_setAutomine", [True])
    copy = w3.eth.get_transaction_receipt(copy_hash)
    mined = w3.eth.get_block(receipt.block_number)["transactions"]
    assert copy["blockNumber"] == receipt.block_number
    assert [h.to_0x_hex() for h in mined] == [copy_hash, receipt.tx_hash]
    assert copy["status"] == 0  # refused (UpdateNotCommitted): the copier committed to nothing
    assert receipt.event("UpdateAccepted")["participant"] == owner.address
    assert owner.task_client.unrevealed_commitments(task_id, 0) == []

    # now public on-chain, the update can be committed to in the copier's name: paid already
    commit_to(copier.task_client, task_id, original.model_commitment, cid)
    with pytest.raises(ContractError) as err:
        copier.task_client.submit_update(task_id, 0, proofs, instances, cid)
    assert err.value.name == "ModelCommitmentReused"
    # and without a commitment of its own, a plain replay is refused before any proof is checked
    with pytest.raises(ContractError) as err:
        report.participants[3].task_client.submit_update(task_id, 0, proofs, instances, cid)
    assert err.value.name == "UpdateNotCommitted"
    assert copier.task_client.credit_of(copier.address) == 0
    assert report.participants[3].task_client.credit_of(report.participants[3].address) == 0


def test_weights_that_do_not_match_the_proof_are_not_aggregated(report, second_task, store):
    task_id, accepted = second_task
    switcher = report.participants[1]
    proofs, instances = switcher.task_client.submitted_proofs(accepted[switcher.address].tx_hash)
    # a valid proof of a good model, but noise in the envelope
    noise = random_state(report.employer.model_factory, seed=99)
    envelope = encrypt_update(report.employer.keys.public, encode_state(noise),
                              update_aad(task_id, 0, switcher.address))
    cid = store.put(envelope)
    commit_to(switcher.task_client, task_id, accepted[switcher.address].model_commitment, cid)
    switcher.task_client.submit_update(task_id, 0, proofs, instances, cid)
    reviewed = {r.accepted.participant: r for r in report.employer.review(task_id, 0)}
    assert reviewed[switcher.address].rejection == "commitment mismatch"
    assert reviewed[switcher.address].state is None
