import brownie

from .conftest import ESCROW, REWARD, close, commit, phases, reveal, submit, submit_all, to_round_end


def test_close_round_publishes_next_global_model(fl, task_id, employer, participants):
    submit(fl, task_id, participants[0], model=111)
    tx = close(fl, task_id, employer, model=555, cid="bafy-g1")
    commitment, cid = fl.globalModel(task_id, 1)
    assert (int(commitment), cid) == (555, "bafy-g1")
    task = fl.getTask(task_id)
    assert task["round"] == 1 and task["status"] == 1  # still Active
    # the next round's commit phase starts when the round closes
    assert phases(fl, task_id)[0] == tx.timestamp


def test_close_round_emits_round_closed(fl, task_id, employer, participants):
    submit_all(fl, task_id, [(participants[0], 111), (participants[1], 222)])
    tx = close(fl, task_id, employer, model=555, cid="bafy-g1")
    event = tx.events["RoundClosed"]
    assert event["taskId"] == task_id and event["round"] == 0
    assert event["modelCommitment"] == 555 and event["modelCid"] == "bafy-g1"
    assert event["updates"] == 2


def test_close_round_during_its_reveal_phase_reverts(fl, task_id, employer, participants):
    # the attack it closes: the employer front-runs a pending reveal with closeRound and keeps
    # the reward; the round cannot close before every reveal had its whole phase
    commit(fl, task_id, participants[0], model=111)
    reveal_end = phases(fl, task_id)[2]
    with brownie.reverts(f"RoundNotOver: {task_id}, 0, {reveal_end}"):
        fl.closeRound(task_id, 0, 555, "bafy-g1", {"from": employer})
    reveal(fl, task_id, participants[0], model=111)   # in the reveal phase: still accepted
    with brownie.reverts(f"RoundNotOver: {task_id}, 0, {reveal_end}"):
        fl.closeRound(task_id, 0, 555, "bafy-g1", {"from": employer})
    to_round_end(fl, task_id)
    fl.closeRound(task_id, 0, 555, "bafy-g1", {"from": employer})


def test_close_last_round_completes_and_returns_unspent_escrow(fl, task_id, employer, participants):
    submit(fl, task_id, participants[0], model=111, counts=(32, 32))
    close(fl, task_id, employer, model=555)
    tx = close(fl, task_id, employer, model=666)
    assert tx.events["TaskCompleted"]["refunded"] == ESCROW - REWARD
    task = fl.getTask(task_id)
    assert task["status"] == 2 and task["escrow"] == 0  # Completed
    assert fl.creditOf(employer) == ESCROW - REWARD
    # conservation: everything escrowed is credited to someone
    assert fl.creditOf(employer) + fl.creditOf(participants[0]) == ESCROW == fl.balance()


def test_close_round_by_non_employer_reverts(fl, task_id, participants):
    to_round_end(fl, task_id)
    with brownie.reverts(f"CallerNotEmployer: {task_id}, {participants[0].address.lower()}"):
        fl.closeRound(task_id, 0, 555, "bafy-g1", {"from": participants[0]})


def test_close_round_wrong_round_reverts(fl, task_id, employer):
    to_round_end(fl, task_id)
    with brownie.reverts("RoundNotOpen: 1, 0"):
        fl.closeRound(task_id, 1, 555, "bafy-g1", {"from": employer})


def test_close_round_after_completion_reverts(fl, task_id, employer):
    close(fl, task_id, employer)
    close(fl, task_id, employer)
    with brownie.reverts(f"TaskNotActive: {task_id}"):
        fl.closeRound(task_id, 2, 777, "bafy-g3", {"from": employer})
