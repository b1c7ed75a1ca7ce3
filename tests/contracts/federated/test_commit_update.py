import brownie

from .conftest import MAX_UPDATES, commit, commitment_of, reveal, submit

REVEAL_WINDOW = 600
NONE = (b"\x00" * 32, 0)


def committed(fl, task_id, round_, participant):
    commitment, block = fl.committedUpdate(task_id, round_, participant)
    return bytes(commitment), block


def test_commit_update_stores_the_commitment_and_its_block(fl, task_id, participants):
    tx = commit(fl, task_id, participants[0], model=111)
    assert committed(fl, task_id, 0, participants[0]) == (commitment_of(task_id, 0, participants[0], 111),
                                                          tx.block_number)
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
    tx = commit(fl, task_id, participants[0], model=111, cid="bafy-b")
    assert committed(fl, task_id, 0, participants[0])[1] == tx.block_number
    latest = commitment_of(task_id, 0, participants[0], 111, "bafy-b")
    earlier = commitment_of(task_id, 0, participants[0], 111, "bafy-a")
    with brownie.reverts(f"UpdateCommitmentMismatch: {latest!r}, {earlier!r}"):
        reveal(fl, task_id, participants[0], model=111, cid="bafy-a")
    reveal(fl, task_id, participants[0], model=111, cid="bafy-b")
    assert fl.hasSubmitted(task_id, 0, participants[0])


def test_commit_update_is_cleared_by_its_reveal(fl, task_id, participants):
    submit(fl, task_id, participants[0], model=111)
    assert committed(fl, task_id, 0, participants[0]) == NONE


def test_commit_update_leaves_the_reveal_window_before_the_deadline(fl, task_id, participants, chain):
    deadline = fl.getTask(task_id)["deadline"]
    chain.sleep(deadline - REVEAL_WINDOW - chain.time() - 30)
    chain.mine()
    commit(fl, task_id, participants[0], model=111)
    chain.sleep(REVEAL_WINDOW - 30)  # a late reveal, still before the deadline
    chain.mine()
    reveal(fl, task_id, participants[0], model=111)
    assert fl.hasSubmitted(task_id, 0, participants[0])


def test_commit_update_too_late_reverts(fl, task_id, participants, chain):
    deadline = fl.getTask(task_id)["deadline"]
    assert fl.REVEAL_WINDOW() == REVEAL_WINDOW
    chain.sleep(deadline - REVEAL_WINDOW - chain.time() + 10)
    chain.mine()
    with brownie.reverts(f"CommitTooLate: {task_id}, {deadline - REVEAL_WINDOW}"):
        commit(fl, task_id, participants[0], model=111)


def test_commit_update_for_another_round_reverts(fl, task_id, participants, employer):
    with brownie.reverts("RoundNotOpen: 1, 0"):
        commit(fl, task_id, participants[0], model=111, round_=1)
    fl.closeRound(task_id, 0, 999, "bafy-g1", {"from": employer})
    with brownie.reverts("RoundNotOpen: 0, 1"):
        commit(fl, task_id, participants[0], model=111, round_=0)


def test_commit_update_after_submitting_in_the_round_reverts(fl, task_id, participants):
    submit(fl, task_id, participants[0], model=111)
    with brownie.reverts(f"UpdateAlreadySubmitted: {participants[0].address.lower()}, 0"):
        commit(fl, task_id, participants[0], model=222)


def test_commit_update_when_the_round_is_full_reverts(fl, task_id, participants):
    for i in range(MAX_UPDATES):
        submit(fl, task_id, participants[i], model=100 + i)
    with brownie.reverts("RoundFull: 0"):
        commit(fl, task_id, participants[MAX_UPDATES], model=999)


def test_commit_update_unknown_task_reverts(fl, task_id, participants):
    with brownie.reverts(f"TaskNotActive: {task_id + 7}"):
        commit(fl, task_id + 7, participants[0], model=111)
