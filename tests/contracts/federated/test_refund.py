import brownie

from .conftest import ESCROW, REWARD, SAMPLES, submit


def expire(fl, task_id, chain):
    chain.sleep(fl.getTask(task_id)["deadline"] - chain.time() + 10)
    chain.mine()


def test_refund_after_deadline_credits_unearned_escrow(fl, task_id, employer, participants, chain):
    submit(fl, task_id, participants[0], model=111, counts=(16, 32))
    earned = REWARD * 48 // SAMPLES
    expire(fl, task_id, chain)
    tx = fl.refund(task_id, {"from": employer})
    assert tx.events["TaskRefunded"]["taskId"] == task_id
    assert tx.events["TaskRefunded"]["refunded"] == ESCROW - earned
    assert fl.creditOf(employer) == ESCROW - earned
    assert fl.creditOf(participants[0]) == earned  # earned rewards stay with the participant
    assert fl.getTask(task_id)["status"] == 3  # Refunded


def test_refund_before_deadline_reverts(fl, task_id, employer):
    deadline = fl.getTask(task_id)["deadline"]
    with brownie.reverts(f"TaskNotExpired: {task_id}, {deadline}"):
        fl.refund(task_id, {"from": employer})


def test_refund_by_non_employer_reverts(fl, task_id, participants, chain):
    expire(fl, task_id, chain)
    with brownie.reverts(f"CallerNotEmployer: {participants[0].address.lower()}"):
        fl.refund(task_id, {"from": participants[0]})


def test_refund_twice_reverts(fl, task_id, employer, chain):
    expire(fl, task_id, chain)
    fl.refund(task_id, {"from": employer})
    with brownie.reverts(f"TaskNotActive: {task_id}"):
        fl.refund(task_id, {"from": employer})


def test_refund_after_completion_reverts(fl, task_id, employer, chain):
    fl.closeRound(task_id, 0, 1, "a", {"from": employer})
    fl.closeRound(task_id, 1, 2, "b", {"from": employer})
    expire(fl, task_id, chain)
    with brownie.reverts(f"TaskNotActive: {task_id}"):
        fl.refund(task_id, {"from": employer})
