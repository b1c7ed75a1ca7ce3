from brownie import chain

from conftest import DAY, finish_training, reverts


def test_publish_test_set_opens_proving(escrow, job, nodes, employer):
    finish_training(escrow, job, nodes)
    tx = escrow.publishTestSet(job, "bafytest", {"from": employer})
    assert tx.events["TestSetPublished"]["cid"] == "bafytest"
    view = escrow.getJob(job).dict()
    assert view["status"] == 3 and view["phaseDeadline"] == tx.events["TestSetPublished"]["proofDeadline"]


def test_publish_test_set_before_training_ends_reverts(escrow, job, employer):
    with reverts("JobStatusInvalid"):
        escrow.publishTestSet(job, "bafytest", {"from": employer})


def test_publish_test_set_by_stranger_reverts(escrow, job, nodes):
    finish_training(escrow, job, nodes)
    with reverts("CallerNotEmployer"):
        escrow.publishTestSet(job, "bafytest", {"from": nodes[0]})


def test_publish_test_set_after_window_reverts(escrow, job, nodes, employer):
    finish_training(escrow, job, nodes)
    chain.sleep(DAY + 1)
    with reverts("DeadlinePassed"):
        escrow.publishTestSet(job, "bafytest", {"from": employer})
