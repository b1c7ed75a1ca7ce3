import brownie
import pytest

from .conftest import MAX_UPDATES, close, commit, commitment_of, phases, reveal, submit, to_reveal

NONE = b"\x00" * 32


def committed(fl, task_id, round_, participant):
    return bytes(fl.committedUpdate(task_id, round_, participant))


def test_commit_update_stores_the_commitment(fl, task_id, participants):
    commit(fl, task_id, participants[0], model=111)
    assert committed(fl, task_id, 0, participants[0]) == commitment_of(task_id, 0, participants[0], 111)
    assert committed(fl, task_id, 0, participants[1]) == NONE


def test_commit_update_emits_update_committed(fl, task_id, participants):
    tx = commit(fl, task_id, participants[0], model=111, cid="bafy-enc")
    event = tx.events["UpdateCommitted"]
    assert event["taskId"] == task_id and event["round"] == 0
    assert event["participant"] == participants[0]
    assert bytes(event["commitment"]) == commitment_of(task_id, 0, participants[0], 111, "bafy-enc")


def test_update_commitment_matches_zkpot(fl, participants):
    # the contract's hash and the participant's (zkpot.federated.commitment) agree
    for task, round_, model, cid in [(1, 0, 111, "bafy-update"), (2**200, 2**32 - 1, 2**254, ""), (7, 3, 0, "é")]:
        expected = commitment_of(task, round_, participants[0], model, cid)
        assert bytes(fl.updateCommitment(task, round_, participants[0], model, cid)) == expected
        # bound to the sender: another address gives another commitment
        assert bytes(fl.updateCommitment(task, round_, participants[1], model, cid)) != expected


def test_commit_update_replaces_the_senders_earlier_commitment(fl, task_id, participants):
    commit(fl, task_id, participants[0], model=111, cid="bafy-a")
    commit(fl, task_id, participants[0], model=111, cid="bafy-b")
    latest = commitment_of(task_id, 0, participants[0], 111, "bafy-b")
    earlier = commitment_of(task_id, 0, participants[0], 111, "bafy-a")
    with brownie.reverts(f"UpdateCommitmentMismatch: {latest!r}, {earlier!r}"):
        reveal(fl, task_id, participants[0], model=111, cid="bafy-a")
    reveal(fl, task_id, participants[0], model=111, cid="bafy-b")
    assert fl.hasSubmitted(task_id, 0, participants[0])


def test_commit_update_is_cleared_by_its_reveal(fl, task_id, participants):
    submit(fl, task_id, participants[0], model=111)
    assert committed(fl, task_id, 0, participants[0]) == NONE


def test_commit_update_after_the_commit_phase_reverts(fl, task_id, participants):
    # once reveals can be read, nobody can commit to what they show
    to_reveal(fl, task_id)
    with brownie.reverts(f"CommitPhaseClosed: {task_id}, 0, {phases(fl, task_id)[1]}"):
        commit(fl, task_id, participants[0], model=111)


def test_commit_update_for_another_round_reverts(fl, task_id, participants, employer):
    with brownie.reverts("RoundNotOpen: 1, 0"):
        commit(fl, task_id, participants[0], model=111, round_=1)
    close(fl, task_id, employer)
    with brownie.reverts("RoundNotOpen: 0, 1"):
        commit(fl, task_id, participants[0], model=111, round_=0)
    commit(fl, task_id, participants[0], model=111, round_=1)   # round 1's commit phase runs


def test_commit_update_after_submitting_in_the_round_reverts(fl, task_id, participants):
    submit(fl, task_id, participants[0], model=111)
    with brownie.reverts(f"UpdateAlreadySubmitted: {participants[0].address.lower()}, 0"):
        commit(fl, task_id, participants[0], model=222)


def test_commit_update_reserves_no_slot(fl, task_id, participants):
    # more commitments than slots are taken: the cap applies to reveals
    for i in range(MAX_UPDATES + 1):
        commit(fl, task_id, participants[i], model=100 + i)
    assert all(committed(fl, task_id, 0, participants[i]) != NONE for i in range(MAX_UPDATES + 1))


def test_commit_update_unknown_task_reverts(fl, task_id, participants):
    with brownie.reverts(f"TaskNotActive: {task_id + 7}"):
        commit(fl, task_id + 7, participants[0], model=111)


@pytest.mark.parametrize("value", [b"\x00" * 32, (1).to_bytes(32, "big")])
def test_commit_update_of_zero_or_the_accepted_mark_reverts(fl, task_id, participants, value):
    # zero is "no commitment"; 1 marks an accepted update: committing either would fake a state
    with brownie.reverts(f"UpdateCommitmentInvalid: {value!r}"):
        fl.commitUpdate(task_id, 0, value, {"from": participants[0]})
    assert not fl.hasSubmitted(task_id, 0, participants[0])
