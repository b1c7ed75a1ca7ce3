import brownie

from .conftest import (DEADLINE_IN, ESCROW, INITIAL_MODEL, MARGIN, REWARD, SAMPLES, SHARDS, close, commit, escrow_of,
                       params, phases, reveal, submit, submit_all, to_round_end, update)


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
    assert event["correctCount"] == 32  # the new global model's certified count (16 + 16)


def test_close_round_certifies_the_next_baseline(fl, task_id, employer, participants):
    assert fl.baselineCount(task_id, 0) == 0  # created without proofs: the initial model counts 0
    close(fl, task_id, employer, model=555, counts=(20, 20))
    assert fl.baselineCount(task_id, 1) == 40
    # round 1's updates are paid for what they add to the global model's 40
    submit(fl, task_id, participants[0], model=111, counts=(24, 24), round_=1)
    assert fl.creditOf(participants[0]) == REWARD * (48 - 40) // (SAMPLES - 40)


def test_close_round_unchanged_model_keeps_its_count_without_proofs(fl, task_id, employer):
    close(fl, task_id, employer, model=555, counts=(20, 20))
    tx = close(fl, task_id, employer, model=555, proven=False)
    assert tx.events["RoundClosed"]["correctCount"] == 40
    assert fl.globalModel(task_id, 2)[0] == 555


def test_close_round_new_model_without_proofs_reverts(fl, task_id, employer):
    to_round_end(fl, task_id)
    with brownie.reverts("GlobalModelUnproven: 555"):
        fl.closeRound(task_id, 0, 555, "bafy-g1", [], [], {"from": employer})
    # the initial model itself carries over without proofs
    fl.closeRound(task_id, 0, INITIAL_MODEL, "bafy-initial", [], [], {"from": employer})
    assert fl.baselineCount(task_id, 1) == 0


def test_close_round_with_proofs_of_another_model_reverts(fl, task_id, employer):
    # an employer cannot claim another model's count for the one it publishes (a better
    # model's, to raise the bar and pay less)
    to_round_end(fl, task_id)
    proofs, instances = update(777, (30, 30))
    with brownie.reverts(f"ModelMismatch: {task_id}, 555, 777"):
        fl.closeRound(task_id, 0, 555, "bafy-g1", proofs, instances, {"from": employer})


def test_close_round_proofs_on_another_test_set_revert(fl, task_id, employer):
    to_round_end(fl, task_id)
    other = b"\x99" * 32
    proofs, instances = update(555, (30, 30), shards=[b"\x11" * 32, other])
    with brownie.reverts(f"TestSetMismatch: {task_id}, 1, {SHARDS[1]!r}, {other!r}"):
        fl.closeRound(task_id, 0, 555, "bafy-g1", proofs, instances, {"from": employer})


def test_close_round_missing_shard_proof_reverts(fl, task_id, employer):
    to_round_end(fl, task_id)
    proofs, instances = update(555, (30, 30))
    with brownie.reverts("ShardCountMismatch: 1, 2"):
        fl.closeRound(task_id, 0, 555, "bafy-g1", proofs[:1], instances[:1], {"from": employer})


def test_close_round_baseline_capped_at_the_test_set(fl, task_id, employer, participants):
    # a faulty verifier's count cannot put the bar past N: every later update is simply refused
    close(fl, task_id, employer, model=555, counts=(40, 40))
    assert fl.baselineCount(task_id, 1) == SAMPLES
    with brownie.reverts(f"ImprovementBelowMargin: {SAMPLES}, {SAMPLES}, {MARGIN}"):
        submit(fl, task_id, participants[0], model=111, counts=(32, 32), round_=1)


def test_close_round_during_its_reveal_phase_reverts(fl, task_id, employer, participants):
    # the attack it closes: the employer front-runs a pending reveal with closeRound and keeps
    # the reward; the round cannot close before every reveal had its whole phase
    commit(fl, task_id, participants[0], model=111)
    reveal_end = phases(fl, task_id)[2]
    with brownie.reverts(f"RoundNotOver: {task_id}, 0, {reveal_end}"):
        fl.closeRound(task_id, 0, 555, "bafy-g1", *update(555), {"from": employer})
    reveal(fl, task_id, participants[0], model=111)   # in the reveal phase: still accepted
    with brownie.reverts(f"RoundNotOver: {task_id}, 0, {reveal_end}"):
        fl.closeRound(task_id, 0, 555, "bafy-g1", *update(555), {"from": employer})
    to_round_end(fl, task_id)
    fl.closeRound(task_id, 0, 555, "bafy-g1", *update(555), {"from": employer})


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
        fl.closeRound(task_id, 0, 555, "bafy-g1", *update(555), {"from": participants[0]})


def test_close_round_wrong_round_reverts(fl, task_id, employer):
    to_round_end(fl, task_id)
    with brownie.reverts("RoundNotOpen: 1, 0"):
        fl.closeRound(task_id, 1, 555, "bafy-g1", *update(555), {"from": employer})


def test_close_round_after_completion_reverts(fl, task_id, employer):
    close(fl, task_id, employer)
    close(fl, task_id, employer)
    with brownie.reverts(f"TaskNotActive: {task_id}"):
        fl.closeRound(task_id, 2, 777, "bafy-g3", *update(777), {"from": employer})


def test_close_round_refuses_a_falling_baseline(fl, verifier, employer, participants, chain):
    # found by an attack: an earlier global model is public and anyone can prove it; moved by one
    # grid step it is a new commitment, paid its gain over a later, worse global. The baseline
    # never falls, so every earlier global proves at most the current one.
    task = fl.createTask(params(verifier, chain, rounds=3, deadline=chain.time() + 4 * DEADLINE_IN),
                         {"from": employer, "value": escrow_of(rounds=3)}).return_value
    close(fl, task, employer, model=555, counts=(20, 20))                      # round 1: baseline 40
    to_round_end(fl, task)
    proofs, instances = update(666, (20, 19))
    with brownie.reverts("GlobalModelRegressed: 666, 39, 40"):
        fl.closeRound(task, 1, 666, "bafy-g2", proofs, instances, {"from": employer})
    close(fl, task, employer, model=555, proven=False)                          # the employer keeps it
    assert fl.baselineCount(task, 2) == 40 and fl.globalModel(task, 2)[0] == 555
    # round 1's global, perturbed, proves its 40 again: no gain, no pay
    with brownie.reverts("ImprovementBelowMargin: 40, 40, 2"):
        submit(fl, task, participants[0], model=556, counts=(20, 20), round_=2)
    close(fl, task, employer, model=777, counts=(20, 20))                      # as good: taken
    assert fl.globalModel(task, 3)[0] == 777 and fl.getTask(task)["status"] == 2   # Completed
