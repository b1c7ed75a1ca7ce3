from brownie import chain

from conftest import BOUNTY, DAY, finish_training, publish_test_set, reverts


def test_forfeit_bounty_owes_it_to_the_last_stage_paid_nodes(escrow, job, nodes):
    finish_training(escrow, job, nodes)
    chain.sleep(DAY + 1)
    tx = escrow.forfeitBounty(job, {"from": nodes[4]})       # anyone
    assert tx.events["BountyForfeited"]["bounty"] == BOUNTY
    view = escrow.getJob(job).dict()
    assert (view["status"], view["remaining"]) == (6, 0)
    paid = sum(escrow.settle(job, n, {"from": n}).events["BountyPaid"]["amount"] for n in nodes[:3])
    assert paid == BOUNTY
    # nobody else has a share: not a declarer of the last stage
    for outsider in nodes[3:5]:
        with reverts("NothingToSettle"):
            escrow.settle(job, outsider, {"from": outsider})


def test_forfeit_bounty_before_window_reverts(escrow, job, nodes):
    finish_training(escrow, job, nodes)
    with reverts("DeadlineNotReached"):
        escrow.forfeitBounty(job, {"from": nodes[0]})


def test_forfeit_bounty_after_publication_reverts(escrow, job, nodes, employer):
    finish_training(escrow, job, nodes)
    publish_test_set(escrow, job, employer)
    chain.sleep(DAY + 1)
    with reverts("JobStatusInvalid"):
        escrow.forfeitBounty(job, {"from": nodes[0]})
