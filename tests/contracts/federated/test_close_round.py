import brownie

from .conftest import ESCROW, REWARD, submit


def test_close_round_publishes_next_global_model(fl, task_id, employer, participants):
    submit(fl, task_id, participants[0], model=111)
    fl.closeRound(task_id, 0, 555, "bafy-g1", {"from": employer})
    commitment, cid = fl.globalModel(task_id, 1)
    assert (int(commitment), cid) == (555, "bafy-g1")
    assert fl.getTask(task_id)["round"] == 1
    assert fl.getTask(task_id)["status"] == 1  # still Active


def test_close_round_emits_round_closed(fl, task_id, employer, participants):
    submit(fl, task_id, participants[0], model=111)
    submit(fl, task_id, participants[1], model=222)
    tx = fl.closeRound(task_id, 0, 555, "bafy-g1", {"from": employer})
    event = tx.events["RoundClosed"]
    assert event["taskId"] == task_id and event["round"] == 0
    assert event["modelCommitment"] == 555 and event["modelCid"] == "bafy-g1"
    assert event["updates"] == 2


def test_close_last_round_completes_and_returns_unspent_escrow(fl, task_id, employer, participants):
    submit(fl, task_id, participants[0], model=111, counts=(32, 32))
    fl.closeRound(task_id, 0, 555, "bafy-g1", {"from": employer})
    tx = fl.closeRound(task_id, 1, 666, "bafy-g2", {"from": employer})
    assert tx.events["TaskCompleted"]["refunded"] == ESCROW - REWARD
    assert fl.getTask(task_id)["status"] == 2  # Completed
    assert fl.getTask(task_id)["escrow"] == 0
    assert fl.creditOf(employer) == ESCROW - REWARD
    # conservation: everything escrowed is credited to someone
    assert fl.creditOf(employer) + fl.creditOf(participants[0]) == ESCROW == fl.balance()


def test_close_round_by_non_employer_reverts(fl, task_id, participants):
    with brownie.reverts(f"CallerNotEmployer: {participants[0].address.lower()}"):
        fl.closeRound(task_id, 0, 555, "bafy-g1", {"from": participants[0]})


def test_close_round_wrong_round_reverts(fl, task_id, employer):
    with brownie.reverts("RoundNotOpen: 1, 0"):
        fl.closeRound(task_id, 1, 555, "bafy-g1", {"from": employer})


def test_close_round_after_completion_reverts(fl, task_id, employer):
    fl.closeRound(task_id, 0, 555, "bafy-g1", {"from": employer})
    fl.closeRound(task_id, 1, 666, "bafy-g2", {"from": employer})
    with brownie.reverts(f"TaskNotActive: {task_id}"):
        fl.closeRound(task_id, 2, 777, "bafy-g3", {"from": employer})
