from brownie import chain

from conftest import BOUNTY, DAY, finish_training, reverts


def finalists(nodes):
    return sorted((n.address for n in nodes[:3]), key=lambda a: int(a, 16))


def test_forfeit_bounty_pays_finalists(escrow, job, nodes):
    finish_training(escrow, job, nodes)
    before = {n.address: escrow.creditOf(n) for n in nodes[:3]}
    chain.sleep(DAY + 1)
    tx = escrow.forfeitBounty(job, finalists(nodes), {"from": nodes[4]})
    assert tx.events["BountyForfeited"]["finalists"] == 3
    gained = sum(escrow.creditOf(a) - before[a] for a in before)
    assert gained == BOUNTY
    assert escrow.getJob(job).dict()["status"] == 5


def test_forfeit_bounty_before_window_reverts(escrow, job, nodes):
    finish_training(escrow, job, nodes)
    with reverts("DeadlineNotReached"):
        escrow.forfeitBounty(job, finalists(nodes), {"from": nodes[0]})


def test_forfeit_bounty_with_outsider_reverts(escrow, job, nodes):
    finish_training(escrow, job, nodes)
    chain.sleep(DAY + 1)
    wrong = sorted([nodes[0].address, nodes[1].address, nodes[4].address], key=lambda a: int(a, 16))
    with reverts("FinalistsInvalid"):
        escrow.forfeitBounty(job, wrong, {"from": nodes[0]})


def test_forfeit_bounty_after_publication_reverts(escrow, job, nodes, employer):
    finish_training(escrow, job, nodes)
    escrow.publishTestSet(job, "bafytest", {"from": employer})
    chain.sleep(DAY + 1)
    with reverts("JobStatusInvalid"):
        escrow.forfeitBounty(job, finalists(nodes), {"from": nodes[0]})
