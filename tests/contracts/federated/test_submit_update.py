import brownie

from .conftest import (INITIAL_MODEL, MAX_UPDATES, REWARD, SAMPLES, SHARDS, THRESHOLD, close, commit, phases,
                       reveal, submit, to_reveal, to_round_end, update)


def test_submit_update_credits_reward_pro_rata_to_proven_count(fl, task_id, participants):
    submit(fl, task_id, participants[0], model=111, counts=(30, 18))
    assert fl.creditOf(participants[0]) == REWARD * 48 // SAMPLES
    assert fl.getTask(task_id)["escrow"] == 2 * MAX_UPDATES * REWARD - REWARD * 48 // SAMPLES
    assert fl.updateCount(task_id, 0) == 1
    assert fl.hasSubmitted(task_id, 0, participants[0])
    assert fl.isModelCommitmentUsed(task_id, 111)


def test_submit_update_emits_update_accepted(fl, task_id, participants):
    tx = submit(fl, task_id, participants[0], model=111, counts=(30, 18), cid="bafy-enc")
    event = tx.events["UpdateAccepted"]
    assert event["taskId"] == task_id and event["round"] == 0
    assert event["participant"] == participants[0]
    assert event["modelCommitment"] == 111 and event["correctCount"] == 48
    assert event["reward"] == REWARD * 48 // SAMPLES
    assert event["encryptedUpdateCid"] == "bafy-enc"


def test_submit_update_at_threshold_is_accepted(fl, task_id, participants):
    submit(fl, task_id, participants[0], model=111, counts=(THRESHOLD - 20, 20))
    assert fl.updateCount(task_id, 0) == 1


def test_submit_update_below_threshold_reverts(fl, task_id, participants):
    with brownie.reverts(f"AccuracyBelowThreshold: {THRESHOLD - 1}, {THRESHOLD}"):
        submit(fl, task_id, participants[0], model=111, counts=(THRESHOLD - 21, 20))


def test_submit_update_replayed_commitment_reverts(fl, task_id, participants):
    # a second participant that committed to the same update (it saw it elsewhere) replays
    # the proofs once they are public: same model commitment, nothing earned
    commit(fl, task_id, participants[1], model=111)
    submit(fl, task_id, participants[0], model=111)
    with brownie.reverts("ModelCommitmentReused: 111"):
        reveal(fl, task_id, participants[1], model=111)
    assert fl.creditOf(participants[1]) == 0


def test_submit_update_twice_in_a_round_reverts(fl, task_id, participants):
    submit(fl, task_id, participants[0], model=111)
    with brownie.reverts(f"UpdateAlreadySubmitted: {participants[0].address.lower()}, 0"):
        reveal(fl, task_id, participants[0], model=111)


def test_submit_update_on_another_test_set_reverts(fl, task_id, participants):
    other = b"\x33" * 32
    with brownie.reverts(f"TestSetMismatch: {task_id}, 1, {SHARDS[1]!r}, {other!r}"):
        submit(fl, task_id, participants[0], model=111, shards=[SHARDS[0], other])


def test_submit_update_shards_of_different_models_reverts(fl, task_id, participants):
    proofs, instances = update(111)
    other, _ = update(222)
    commit(fl, task_id, participants[0], model=111, cid="bafy")
    to_reveal(fl, task_id)
    with brownie.reverts(f"ModelMismatch: {task_id}, 111, 222"):
        fl.submitUpdate(task_id, 0, [proofs[0], other[1]], instances, "bafy", {"from": participants[0]})


def test_submit_update_missing_shard_reverts(fl, task_id, participants):
    proofs, instances = update(111)
    commit(fl, task_id, participants[0], model=111, cid="bafy")
    to_reveal(fl, task_id)
    with brownie.reverts("ShardCountMismatch: 1, 2"):
        fl.submitUpdate(task_id, 0, proofs[:1], instances[:1], "bafy", {"from": participants[0]})


def test_submit_update_invalid_proof_reverts(fl, task_id, participants):
    proofs, instances = update(111)
    commit(fl, task_id, participants[0], model=111, cid="bafy")
    to_reveal(fl, task_id)
    with brownie.reverts("ProofInvalid: "):
        fl.submitUpdate(task_id, 0, [proofs[0], b"\x00" * 96], instances, "bafy", {"from": participants[0]})


def test_submit_update_for_a_closed_round_reverts(fl, task_id, participants, employer):
    close(fl, task_id, employer)
    with brownie.reverts("RoundNotOpen: 0, 1"):
        reveal(fl, task_id, participants[0], model=111, round_=0)


def test_submit_update_replayed_from_an_earlier_round_reverts(fl, task_id, participants, employer):
    submit(fl, task_id, participants[0], model=111)
    close(fl, task_id, employer)
    commit(fl, task_id, participants[1], model=111, round_=1)
    commit(fl, task_id, participants[2], model=222, round_=1)
    with brownie.reverts("ModelCommitmentReused: 111"):
        reveal(fl, task_id, participants[1], model=111, round_=1)
    reveal(fl, task_id, participants[2], model=222, round_=1)
    assert fl.updateCount(task_id, 1) == 1


def test_submit_update_of_the_unchanged_global_model_reverts(fl, task_id, participants, employer):
    # proving the round's global model as is would be paid work that was never done
    with brownie.reverts(f"ModelCommitmentReused: {INITIAL_MODEL}"):
        submit(fl, task_id, participants[0], model=INITIAL_MODEL)
    close(fl, task_id, employer, model=999)
    with brownie.reverts("ModelCommitmentReused: 999"):
        submit(fl, task_id, participants[0], model=999, round_=1)


def test_submit_update_of_an_earlier_global_model_reverts(fl, task_id, participants, employer):
    # found by an attack: round 1's global proved fewer than round 0's, so round 0's model, public
    # and proven by anyone, earned a reward in round 1 for no training
    assert fl.isModelCommitmentUsed(task_id, INITIAL_MODEL)
    close(fl, task_id, employer, model=999, counts=(10, 10))
    assert fl.isModelCommitmentUsed(task_id, 999)
    commit(fl, task_id, participants[0], model=INITIAL_MODEL, round_=1)
    commit(fl, task_id, participants[1], model=222, round_=1)
    with brownie.reverts(f"ModelCommitmentReused: {INITIAL_MODEL}"):
        reveal(fl, task_id, participants[0], model=INITIAL_MODEL, round_=1)
    assert fl.creditOf(participants[0]) == 0
    reveal(fl, task_id, participants[1], model=222, round_=1)
    assert fl.updateCount(task_id, 1) == 1


def test_submit_update_round_full_reverts(fl, task_id, participants):
    # a commitment reserves no slot: the cap applies when updates are revealed
    for i in range(MAX_UPDATES + 1):
        commit(fl, task_id, participants[i], model=100 + i)
    for i in range(MAX_UPDATES):
        reveal(fl, task_id, participants[i], model=100 + i)
    with brownie.reverts("RoundFull: 0"):
        reveal(fl, task_id, participants[MAX_UPDATES], model=100 + MAX_UPDATES)


def test_submit_update_before_the_reveal_phase_reverts(fl, task_id, participants):
    # a reveal during the commit phase would show the update while others can still commit
    commit(fl, task_id, participants[0], model=111)
    with brownie.reverts(f"RevealPhaseNotOpen: {task_id}, 0, {phases(fl, task_id)[1]}"):
        reveal(fl, task_id, participants[0], model=111, wait=False)


def test_submit_update_after_the_reveal_phase_reverts(fl, task_id, participants):
    commit(fl, task_id, participants[0], model=111)
    to_round_end(fl, task_id)
    with brownie.reverts(f"RevealPhaseClosed: {task_id}, 0, {phases(fl, task_id)[2]}"):
        reveal(fl, task_id, participants[0], model=111)


def test_submit_update_unknown_task_reverts(fl, task_id, participants):
    with brownie.reverts(f"TaskNotActive: {task_id + 7}"):
        submit(fl, task_id + 7, participants[0], model=111)


def test_submit_update_pays_improvement_over_the_global_model(fl, task_id, employer, participants):
    from .conftest import close

    close(fl, task_id, employer, model=555, counts=(20, 20))  # round 1's global model counts 40
    tx = submit(fl, task_id, participants[0], model=111, counts=(26, 26), round_=1)
    assert tx.events["UpdateAccepted"]["reward"] == REWARD * (52 - 40) // (SAMPLES - 40)
    assert fl.creditOf(participants[0]) == REWARD * 12 // 24


def test_submit_update_resubmitted_global_model_with_a_tweak_reverts(fl, task_id, employer, participants):
    # the free-rider: the global model with one bias changed has a new h_W and about its count
    from .conftest import MARGIN, close

    close(fl, task_id, employer, model=555, counts=(20, 20))
    with brownie.reverts(f"ImprovementBelowMargin: 41, 40, {MARGIN}"):
        submit(fl, task_id, participants[0], model=556, counts=(21, 20), round_=1)
    assert fl.creditOf(participants[0]) == 0 and fl.updateCount(task_id, 1) == 0


def test_submit_update_at_the_margin_is_accepted(fl, task_id, employer, participants):
    from .conftest import MARGIN, close

    close(fl, task_id, employer, model=555, counts=(20, 20))
    submit(fl, task_id, participants[0], model=111, counts=(20 + MARGIN, 20), round_=1)
    assert fl.creditOf(participants[0]) == REWARD * MARGIN // (SAMPLES - 40)


def test_submit_update_below_the_global_model_reverts_even_above_threshold(fl, task_id, employer, participants):
    from .conftest import MARGIN, close

    close(fl, task_id, employer, model=555, counts=(28, 28))
    with brownie.reverts(f"ImprovementBelowMargin: 50, 56, {MARGIN}"):
        submit(fl, task_id, participants[0], model=111, counts=(25, 25), round_=1)
