from brownie import chain

from conftest import BOUNTY, DAY, MODEL, REWARD, SHARD, Stage, finish_training, proof, publish_test_set, reverts


def test_reclaim_after_deadline_refunds_unearned(escrow, job, nodes, employer):
    Stage(escrow, job, 1).run(nodes[:3])
    chain.sleep(11 * DAY)
    tx = escrow.reclaim(job, {"from": employer})
    assert tx.events["JobReclaimed"]["amount"] == 3 * REWARD + BOUNTY
    assert escrow.creditOf(employer) == 3 * REWARD + BOUNTY
    view = escrow.getJob(job).dict()
    # what stage 1's nodes earned is still theirs to settle
    assert (view["status"], view["remaining"], view["owed"]) == (7, 0, 3 * REWARD)
    assert escrow.settle(job, nodes[0], {"from": nodes[0]}).events["DeclarationRewarded"]["amount"] == REWARD


def test_reclaim_before_deadline_reverts(escrow, job, employer):
    with reverts("DeadlineNotReached"):
        escrow.reclaim(job, {"from": employer})


def test_reclaim_by_stranger_reverts(escrow, job, nodes):
    chain.sleep(11 * DAY)
    with reverts("CallerNotEmployer"):
        escrow.reclaim(job, {"from": nodes[0]})


def test_reclaim_unproven_after_proof_window_refunds_bounty(escrow, job, nodes, employer):
    finish_training(escrow, job, nodes)
    publish_test_set(escrow, job, employer)
    chain.sleep(DAY + 1)
    assert escrow.reclaim(job, {"from": employer}).events["JobReclaimed"]["amount"] == BOUNTY


def test_reclaim_awaiting_test_set_reverts(escrow, job, nodes, employer):
    # withholding the test set does not bring the bounty back: it is forfeited to the nodes
    finish_training(escrow, job, nodes)
    chain.sleep(11 * DAY)
    with reverts("JobStatusInvalid"):
        escrow.reclaim(job, {"from": employer})


def test_reclaim_completed_job_reverts(escrow, job, nodes, employer):
    finish_training(escrow, job, nodes)
    publish_test_set(escrow, job, employer)
    escrow.submitAccuracyProof(job, 0, proof(SHARD, MODEL, 64), [], {"from": nodes[0]})
    chain.sleep(11 * DAY)
    with reverts("JobStatusInvalid"):
        escrow.reclaim(job, {"from": employer})
