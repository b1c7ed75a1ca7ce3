import brownie

from .conftest import COMMIT_WINDOW, ESCROW, REVEAL_WINDOW, REWARD, SAMPLES, close, commit, params, phases, reveal, submit


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


def test_refund_waits_for_the_open_rounds_reveal_phase(fl, verifier, employer, participants, chain):
    # a round that opened shortly before the deadline keeps its whole reveal phase: the
    # employer cannot cut off a pending reveal by refunding
    task = fl.createTask(params(verifier, chain, deadline=chain.time() + COMMIT_WINDOW + REVEAL_WINDOW + 5),
                         {"from": employer, "value": ESCROW}).return_value
    close(fl, task, employer)                           # round 1 opens just before the deadline
    commit(fl, task, participants[0], model=111, round_=1)
    expire(fl, task, chain)
    reveal_end = phases(fl, task)[2]
    with brownie.reverts(f"RoundNotOver: {task}, 1, {reveal_end}"):
        fl.refund(task, {"from": employer})
    reveal(fl, task, participants[0], model=111, round_=1)
    chain.sleep(reveal_end - chain.time())
    chain.mine()
    assert "TaskRefunded" in fl.refund(task, {"from": employer}).events


def test_refund_by_non_employer_reverts(fl, task_id, participants, chain):
    expire(fl, task_id, chain)
    with brownie.reverts(f"CallerNotEmployer: {task_id}, {participants[0].address.lower()}"):
        fl.refund(task_id, {"from": participants[0]})


def test_refund_twice_reverts(fl, task_id, employer, chain):
    expire(fl, task_id, chain)
    fl.refund(task_id, {"from": employer})
    with brownie.reverts(f"TaskNotActive: {task_id}"):
        fl.refund(task_id, {"from": employer})


def test_refund_after_completion_reverts(fl, task_id, employer, chain):
    close(fl, task_id, employer)
    close(fl, task_id, employer)
    expire(fl, task_id, chain)
    with brownie.reverts(f"TaskNotActive: {task_id}"):
        fl.refund(task_id, {"from": employer})
