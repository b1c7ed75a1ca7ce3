import brownie
import pytest

from .conftest import (COMMIT_WINDOW, ENC_KEY, ESCROW, INITIAL_MODEL, MAX_UPDATES, REVEAL_WINDOW, REWARD, ROUNDS,
                       SAMPLES, SHARDS, THRESHOLD, escrow_of, params, phases)


def test_create_task_stores_terms_and_escrow(fl, verifier, employer, chain):
    tx = fl.createTask(params(verifier, chain), {"from": employer, "value": ESCROW})
    task_id = tx.return_value
    task = fl.getTask(task_id)
    assert task["employer"] == employer
    assert task["status"] == 1  # Active
    assert task["rounds"] == ROUNDS and task["round"] == 0
    assert task["threshold"] == THRESHOLD and task["sampleCount"] == SAMPLES
    assert task["escrow"] == ESCROW and task["rewardPerUpdate"] == REWARD
    assert task["encryptionKey"] == "0x" + ENC_KEY.hex()
    assert [bytes(s) for s in fl.testSetCommitments(task_id)] == SHARDS
    assert fl.manifestCid(task_id) == "bafy-manifest"
    commitment, cid = fl.globalModel(task_id, 0)
    assert (int(commitment), cid) == (INITIAL_MODEL, "bafy-initial")
    assert fl.balance() == ESCROW
    start = tx.timestamp
    assert phases(fl, task_id) == (start, start + COMMIT_WINDOW, start + COMMIT_WINDOW + REVEAL_WINDOW)


def test_create_task_emits_task_created(fl, verifier, employer, chain):
    tx = fl.createTask(params(verifier, chain), {"from": employer, "value": ESCROW})
    event = tx.events["TaskCreated"]
    assert event["taskId"] == tx.return_value == fl.taskCount()
    assert event["employer"] == employer and event["verifier"] == verifier
    assert event["rounds"] == ROUNDS and event["threshold"] == THRESHOLD
    assert event["escrow"] == ESCROW and event["encryptionKey"] == "0x" + ENC_KEY.hex()
    assert event["manifestCid"] == "bafy-manifest"


def test_create_task_ids_count_up(fl, verifier, employer, chain):
    first = fl.createTask(params(verifier, chain), {"from": employer, "value": ESCROW}).return_value
    second = fl.createTask(params(verifier, chain), {"from": employer, "value": ESCROW}).return_value
    assert second == first + 1


@pytest.mark.parametrize("sent", [ESCROW - 1, ESCROW + 1, 0])
def test_create_task_wrong_escrow_reverts(fl, verifier, employer, chain, sent):
    with brownie.reverts(f"EscrowMismatch: {ESCROW}, {sent}"):
        fl.createTask(params(verifier, chain), {"from": employer, "value": sent})


@pytest.mark.parametrize("threshold", [0, SAMPLES + 1])
def test_create_task_threshold_out_of_range_reverts(fl, verifier, employer, chain, threshold):
    with brownie.reverts(f"ThresholdInvalid: {threshold}, {SAMPLES}"):
        fl.createTask(params(verifier, chain, threshold=threshold), {"from": employer, "value": ESCROW})


def test_create_task_without_shards_reverts(fl, verifier, employer, chain):
    with brownie.reverts("ShardsMissing: "):
        fl.createTask(params(verifier, chain, shards=[]), {"from": employer, "value": ESCROW})


@pytest.mark.parametrize("rounds,max_updates", [(0, MAX_UPDATES), (ROUNDS, 0)])
def test_create_task_zero_rounds_or_slots_reverts(fl, verifier, employer, chain, rounds, max_updates):
    with brownie.reverts(f"RoundsInvalid: {rounds}, {max_updates}"):
        fl.createTask(params(verifier, chain, rounds=rounds, max_updates=max_updates),
                      {"from": employer, "value": escrow_of(rounds, max_updates)})


def test_create_task_past_deadline_reverts(fl, verifier, employer, chain):
    deadline = chain[-1].timestamp
    with brownie.reverts(f"DeadlineInvalid: {deadline}"):
        fl.createTask(params(verifier, chain, deadline=deadline), {"from": employer, "value": ESCROW})


def test_create_task_deadline_inside_the_first_round_reverts(fl, verifier, employer, chain):
    # no whole round (commit and reveal phases) would fit before such a deadline
    deadline = chain[-1].timestamp + COMMIT_WINDOW + REVEAL_WINDOW - 10
    with brownie.reverts(f"DeadlineInvalid: {deadline}"):
        fl.createTask(params(verifier, chain, deadline=deadline), {"from": employer, "value": ESCROW})


@pytest.mark.parametrize("windows", [(0, 600), (600, 0), (31 * 24 * 3600, 600)])
def test_create_task_window_out_of_range_reverts(fl, verifier, employer, chain, windows):
    with brownie.reverts(f"WindowInvalid: {windows[0]}, {windows[1]}"):
        fl.createTask(params(verifier, chain, commit_window=windows[0], reveal_window=windows[1],
                             deadline=chain.time() + 10**8), {"from": employer, "value": ESCROW})


def test_create_task_without_encryption_key_reverts(fl, verifier, employer, chain):
    with brownie.reverts("EncryptionKeyMissing: "):
        fl.createTask(params(verifier, chain, key=b"\x00" * 32), {"from": employer, "value": ESCROW})


@pytest.mark.parametrize("margin", [0, SAMPLES + 1])
def test_create_task_margin_out_of_range_reverts(fl, verifier, employer, chain, margin):
    # a margin of 0 would accept copies of the global model (they gain 0) and let them fill rounds
    with brownie.reverts(f"MarginInvalid: {margin}, {SAMPLES}"):
        fl.createTask(params(verifier, chain, margin=margin), {"from": employer, "value": ESCROW})


def test_create_task_stores_margin_and_uncertified_baseline(fl, verifier, employer, chain):
    from .conftest import MARGIN

    task_id = fl.createTask(params(verifier, chain), {"from": employer, "value": ESCROW}).return_value
    assert fl.getTask(task_id)["minImprovement"] == MARGIN
    assert fl.baselineCount(task_id, 0) == 0


def test_create_task_certifies_the_initial_model(fl, verifier, employer, chain):
    from .conftest import update

    proofs, instances = update(INITIAL_MODEL, (10, 12))
    task_id = fl.createTask(params(verifier, chain, initial_proofs=proofs, initial_instances=instances),
                            {"from": employer, "value": ESCROW}).return_value
    assert fl.baselineCount(task_id, 0) == 22


def test_create_task_initial_proofs_of_another_model_revert(fl, verifier, employer, chain):
    from .conftest import update

    proofs, instances = update(INITIAL_MODEL + 1, (10, 12))
    with brownie.reverts(f"ModelMismatch: {fl.taskCount() + 1}, {INITIAL_MODEL}, {INITIAL_MODEL + 1}"):
        fl.createTask(params(verifier, chain, initial_proofs=proofs, initial_instances=instances),
                      {"from": employer, "value": ESCROW})


def test_create_task_with_an_absurd_test_set_size_reverts(fl, verifier, employer, chain):
    samples = 2**32
    with brownie.reverts(f"ThresholdInvalid: {THRESHOLD}, {samples}"):
        fl.createTask(params(verifier, chain, samples=samples), {"from": employer, "value": ESCROW})
