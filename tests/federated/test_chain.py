"""FederatedTaskClient on a real Anvil: the task's windows, its round's phases and the
contract's phase refusals, decoded. No proof is needed: every phase check comes before the
verifier is called, so the task's verifier is an address that is never called.
"""

from __future__ import annotations

import pytest

from zkpot.chain import ChainClient, ContractError
from zkpot.chain.clock import DevChainClock, chain_time
from zkpot.devnet import dev_private_keys
from zkpot.federated.chain import FederatedTaskClient, PhaseRefusal, TaskParams
from zkpot.federated.commitment import update_commitment
from zkpot.federated.phases import COMMIT_WINDOW_S, REVEAL_WINDOW_S, RoundPhase

COMMIT_S, REVEAL_S = 300, 120
NEVER_CALLED = "0x" + "5e" * 20


@pytest.fixture(scope="module")
def clients(anvil):
    employer_key, participant_key = dev_private_keys(7)[5:7]  # accounts no other test signs with
    employer = FederatedTaskClient.deploy(ChainClient(anvil.rpc_url, employer_key))
    return employer, FederatedTaskClient(ChainClient(anvil.rpc_url, participant_key), employer.address)


def params(client: FederatedTaskClient, **over) -> TaskParams:
    values = dict(verifier=NEVER_CALLED, test_set_commitments=[b"\x11" * 32], manifest_cid="bafy-m", samples=16,
                  threshold=8, rounds=2, max_updates_per_round=2, reward_per_update=10**12,
                  encryption_key=b"\x7a" * 32, initial_model_commitment=1, initial_model_cid="bafy-0",
                  deadline=chain_time(client.client) + 3600, commit_window=COMMIT_S, reveal_window=REVEAL_S)
    values.update(over)
    return TaskParams(**values)


@pytest.fixture
def task(clients):
    employer, _ = clients
    return employer.create_task(params(employer))


def test_task_params_default_to_the_documented_windows():
    p = TaskParams(verifier=NEVER_CALLED, test_set_commitments=[b"\x11" * 32], manifest_cid="m", samples=1,
                   threshold=1, rounds=1, max_updates_per_round=1, reward_per_update=1, encryption_key=b"k" * 32,
                   initial_model_commitment=1, initial_model_cid="c", deadline=1)
    assert (p.commit_window, p.reveal_window) == (COMMIT_WINDOW_S, REVEAL_WINDOW_S) == (3600, 600)


def test_round_zero_starts_at_creation_with_the_tasks_windows(clients, task):
    employer, _ = clients
    view, phases = employer.get_task(task), employer.round_phases(task)
    assert (view.commit_window, view.reveal_window) == (COMMIT_S, REVEAL_S)
    created = employer.client.w3.eth.get_block("latest")["timestamp"]
    assert view.round_start == phases.start == created
    assert (phases.commit_end, phases.reveal_end) == (created + COMMIT_S, created + COMMIT_S + REVEAL_S)
    assert phases.phase_at(chain_time(employer.client)) is RoundPhase.commit


def test_committed_update_is_the_commitment_bytes(clients, task):
    _, participant = clients
    me = participant.client.address
    assert participant.committed_update(task, 0, me) == b"\x00" * 32
    commitment = update_commitment(task, 0, me, 42, "bafy-u")
    participant.commit_update(task, 0, commitment)
    assert participant.committed_update(task, 0, me) == commitment


def test_a_reveal_in_the_commit_phase_is_refused_with_the_reveal_start(clients, task):
    _, participant = clients
    participant.commit_update(task, 0, update_commitment(task, 0, participant.client.address, 42, "bafy-u"))
    with pytest.raises(ContractError) as err:
        participant.submit_update(task, 0, [b"p"], [[42, 8]], "bafy-u")
    refusal = PhaseRefusal.from_error(err.value)
    assert refusal == PhaseRefusal("RevealPhaseNotOpen", task, 0, participant.round_phases(task).commit_end)


def test_a_commitment_in_the_reveal_phase_is_refused_with_the_commit_end(clients, task):
    _, participant = clients
    phases = participant.round_phases(task)
    DevChainClock(participant.client).wait_until(phases.commit_end)
    with pytest.raises(ContractError) as err:
        participant.commit_update(task, 0, b"\x01" * 32)
    assert PhaseRefusal.from_error(err.value) == PhaseRefusal("CommitPhaseClosed", task, 0, phases.commit_end)


def test_closing_before_the_reveal_phase_ends_is_refused_then_taken(clients, task):
    employer, _ = clients
    phases = employer.round_phases(task)
    DevChainClock(employer.client).wait_until(phases.commit_end)
    with pytest.raises(ContractError) as err:
        employer.close_round(task, 0, 1, "bafy-0")  # unchanged: no proofs needed
    assert PhaseRefusal.from_error(err.value) == PhaseRefusal("RoundNotOver", task, 0, phases.reveal_end)
    DevChainClock(employer.client).wait_until(phases.reveal_end)
    receipt = employer.close_round(task, 0, 1, "bafy-0")  # unchanged: no proofs needed
    # round 1 starts at the close, with the same windows
    closed_at = employer.client.w3.eth.get_block(receipt.block_number)["timestamp"]
    nxt = employer.round_phases(task)
    assert (nxt.start, nxt.commit_end, nxt.reveal_end) == (closed_at, closed_at + COMMIT_S,
                                                           closed_at + COMMIT_S + REVEAL_S)


def test_other_refusals_are_not_phase_refusals():
    assert PhaseRefusal.from_error(ContractError("UpdateNotCommitted", ("0x" + "11" * 20, 0))) is None
