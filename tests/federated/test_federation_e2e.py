"""A real federation on Anvil: real ezkl proofs, the real verifier, the FederatedTask contract.

Four participants on a non-IID split of digits; one flips labels, one submits random weights.
One round keeps it to a few minutes. The round runs in its phases by chain time; the runner's
clock is ``DevChainClock``, which moves this package's own Anvil over the idle part of each
phase instead of waiting it out. A second task over the same test set replays accepted proofs
(public calldata) to show what a copier gets: nothing, even when its copy is mined first.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from zkpot.chain import ChainClient, Deployment, fetch_events
from zkpot.chain.clock import DevChainClock
from zkpot.chain.errors import ContractError
from zkpot.config import Settings
from zkpot.devnet import dev_private_keys
from zkpot.federated.commitment import update_commitment
from zkpot.federated.crypto import MAGIC as ENVELOPE_MAGIC, decrypt_update, encrypt_update, update_aad
from zkpot.federated.federation import FederationConfig, run_federation
from zkpot.federated.local import Behaviour, random_state
from zkpot.federated.participant import PendingReveal, RoundOutcome, fetch_manifest
from zkpot.federated.updates import decode_state, encode_state
from zkpot.storage import LocalStore

pytestmark = [pytest.mark.slow, pytest.mark.zk]

# windows far wider than the work on a loaded machine: the dev clock skips what is left of them
CONFIG = FederationConfig(participants=4, rounds=1, commit_window_s=1800, reveal_window_s=300)


class RecordingClock(DevChainClock):
    """The dev chain's clock, remembering every time it was asked to wait for."""

    def __init__(self, client: ChainClient):
        super().__init__(client)
        self.waits: list[int] = []

    def wait_until(self, when: int) -> int:
        self.waits.append(when)
        return super().wait_until(when)


class EarlyOnceClock(DevChainClock):
    """Answers its first wait at once, as a clock ahead of the chain's blocks would; then moves
    the dev chain like DevChainClock."""

    def __init__(self, client: ChainClient):
        super().__init__(client)
        self.early = True

    def wait_until(self, when: int) -> int:
        if self.early:
            self.early = False
            return when
        return super().wait_until(when)


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
def clock(anvil) -> RecordingClock:
    return RecordingClock(ChainClient(anvil.rpc_url))


@pytest.fixture(scope="module")
def report(anvil, fl_settings, store, clock):
    return run_federation(CONFIG, fl_settings, anvil.rpc_url, dev_private_keys(CONFIG.participants + 1), store,
                          clock=clock)


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
        assert task.committed_update(report.task_id, 0, o.participant) == b"\x00" * 32


def block_time(client: ChainClient, block: int) -> int:
    return client.w3.eth.get_block(block)["timestamp"]


def test_rounds_follow_the_chains_phases(report, clock):
    task = report.employer.task_client
    client = task.client
    only_task = Deployment(chain_id=client.chain_id, block=0, contracts={"FederatedTask": task.address})
    events = [ev for ev in fetch_events(client, only_task, names=["TaskCreated", "UpdateCommitted",
                                                                  "UpdateAccepted", "RoundClosed"])
              if ev["taskId"] == report.task_id]
    start = block_time(client, next(ev for ev in events if ev.name == "TaskCreated").block_number)
    for r, timing in enumerate(report.timings):
        phases = timing.phases
        assert (phases.start, phases.commit_end, phases.reveal_end) == (
            start, start + CONFIG.commit_window, start + CONFIG.commit_window + CONFIG.reveal_window_s)
        of_round = [ev for ev in events if ev.name != "TaskCreated" and ev["round"] == r]
        commits = [block_time(client, ev.block_number) for ev in of_round if ev.name == "UpdateCommitted"]
        reveals = [block_time(client, ev.block_number) for ev in of_round if ev.name == "UpdateAccepted"]
        (closed,) = [block_time(client, ev.block_number) for ev in of_round if ev.name == "RoundClosed"]
        assert len(commits) == sum(o.submitted for o in report.outcomes[r])
        assert len(reveals) == sum(o.accepted for o in report.outcomes[r]) > 0
        assert all(phases.start <= t < phases.commit_end for t in commits)
        assert all(phases.commit_end <= t < phases.reveal_end for t in reveals)
        assert closed >= phases.reveal_end
        start = closed  # the next round's commit phase starts at the close
    # every wait went through the runner's clock, in order: each round's commit end (the runner
    # and each reveal), then its reveal end
    ends = [w for t in report.timings for w in (t.phases.commit_end, t.phases.reveal_end)]
    assert sorted(set(clock.waits)) == ends and clock.waits == sorted(clock.waits)


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


def commit_to(client, task_id: int, model_commitment: int, cid: str):
    """Commit in the client's own name to the update (model commitment, CID) it will reveal."""
    commitment = update_commitment(task_id, 0, client.client.address, model_commitment, cid)
    assert client.update_commitment(task_id, 0, client.client.address, model_commitment, cid) == commitment
    return client.commit_update(task_id, 0, commitment)


@pytest.fixture(scope="module")
def second_task(report, anvil, store):
    """A second task over the same test set: accepted proofs of task 1 are public calldata.

    In its commit phase: the owner (participant 0) commits to its round-0 update in a fresh
    envelope; participant 3 commits to the same update in its own name (it saw it in task 1);
    participant 1 commits to its proven model with noise in the envelope, and reveals through
    the participant code with a clock that fires early: refused in the commit phase, retried
    in the reveal phase. Everything after runs in the reveal phase.
    """
    employer = report.employer
    initial = employer.global_state(report.task_id, 0)
    task_id = employer.create_task(CONFIG.spec(), report.data.test, threshold=report.threshold, rounds=1,
                                   max_updates_per_round=4, reward_per_update=CONFIG.reward_per_update,
                                   deadline=2**40, verifier=employer.task_client.get_task(report.task_id).verifier,
                                   initial_state=initial, commit_window=1800, reveal_window=600)
    accepted = {a.participant: a for a in employer.task_client.accepted_updates(report.task_id, 0)}
    owner, switcher, learner = report.participants[0], report.participants[1], report.participants[3]
    state = {r.accepted.participant: r.state for r in report.rounds[0].aggregated}[owner.address]
    owner_cid = store.put(encrypt_update(employer.keys.public, encode_state(state),
                                         update_aad(task_id, 0, owner.address)))
    commit_to(owner.task_client, task_id, accepted[owner.address].model_commitment, owner_cid)
    commit_to(learner.task_client, task_id, accepted[owner.address].model_commitment, owner_cid)

    noise = random_state(employer.model_factory, seed=99)  # a valid proof of a good model, noise sent
    noise_cid = store.put(encrypt_update(employer.keys.public, encode_state(noise),
                                         update_aad(task_id, 0, switcher.address)))
    switched = accepted[switcher.address]
    commit_to(switcher.task_client, task_id, switched.model_commitment, noise_cid)
    proofs, instances = switcher.task_client.submitted_proofs(switched.tx_hash)
    pending = PendingReveal(task_id, switcher.task_client.round_phases(task_id), proofs, instances, RoundOutcome(
        participant=switcher.address, round=0, behaviour=Behaviour.honest, proven_correct=switched.correct_count,
        threshold=report.threshold, submitted=True, accepted=False, model_commitment=switched.model_commitment,
        cid=noise_cid))
    early = switcher.reveal(pending, EarlyOnceClock(switcher.task_client.client))
    return {"id": task_id, "accepted": accepted, "owner_cid": owner_cid, "early": early, "pending": pending}


def test_a_reveal_sent_in_the_commit_phase_is_refused_and_retried_in_the_reveal_phase(report, second_task):
    outcome, phases = second_task["early"], second_task["pending"].phases
    assert outcome.reveal_retries == ["RevealPhaseNotOpen"]
    assert outcome.accepted and outcome.refusal is None
    task = report.participants[1].task_client
    (accepted,) = [u for u in task.accepted_updates(second_task["id"], 0) if u.participant == outcome.participant]
    assert block_time(task.client, accepted.block_number) >= phases.commit_end


def test_weights_that_do_not_match_the_proof_are_not_aggregated(report, second_task):
    reviewed = {r.accepted.participant: r for r in report.employer.review(second_task["id"], 0)}
    switcher = report.participants[1]
    assert reviewed[switcher.address].rejection == "commitment mismatch"
    assert reviewed[switcher.address].state is None


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


def test_copied_reveal_earns_nothing_even_mined_first(report, second_task):
    task_id, accepted, cid = second_task["id"], second_task["accepted"], second_task["owner_cid"]
    owner, copier, learner = report.participants[0], report.participants[2], report.participants[3]
    original = accepted[owner.address]
    proofs, instances = owner.task_client.submitted_proofs(original.tx_hash)
    assert owner.address in [c.participant for c in owner.task_client.unrevealed_commitments(task_id, 0)]

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

    # now public, the update can no longer be committed to: the commit phase is over
    with pytest.raises(ContractError) as err:
        commit_to(copier.task_client, task_id, original.model_commitment, cid)
    assert err.value.name == "CommitPhaseClosed"
    # without a commitment of its own, a plain replay is refused before any proof is checked
    with pytest.raises(ContractError) as err:
        copier.task_client.submit_update(task_id, 0, proofs, instances, cid)
    assert err.value.name == "UpdateNotCommitted"
    # and one who committed to the same update in time (it had seen it in task 1): paid already
    with pytest.raises(ContractError) as err:
        learner.task_client.submit_update(task_id, 0, proofs, instances, cid)
    assert err.value.name == "ModelCommitmentReused"
    assert copier.task_client.credit_of(copier.address) == 0
    assert learner.task_client.credit_of(learner.address) == 0
