from brownie import ReentrantWithdrawer, chain

from conftest import BOUNTY, DAY, REWARD, Stage, job_params, reverts


def credited(escrow, job, nodes):
    Stage(escrow, job, 1).run(nodes[:3])
    escrow.settle(job, nodes[1], {"from": nodes[1]})


def test_withdraw_pays_credit(escrow, job, nodes):
    credited(escrow, job, nodes)
    before = nodes[1].balance()
    tx = escrow.withdraw({"from": nodes[1], "gas_price": 0})
    assert tx.events["Withdrawn"]["amount"] == REWARD
    assert nodes[1].balance() - before == REWARD
    assert escrow.creditOf(nodes[1]) == 0 and escrow.totalWithdrawn() == REWARD


def test_withdraw_twice_reverts(escrow, job, nodes):
    credited(escrow, job, nodes)
    escrow.withdraw({"from": nodes[1]})
    with reverts("NothingToWithdraw"):
        escrow.withdraw({"from": nodes[1]})


def reclaimed_by_attacker(escrow, verifier, employer):
    attacker = ReentrantWithdrawer.deploy(escrow, {"from": employer})
    params, value = job_params(verifier)
    attacker.createJob(params, {"from": employer, "value": value})
    chain.sleep(11 * DAY)
    attacker.reclaim(escrow.jobCount(), {"from": employer})
    return attacker, value


def test_withdraw_reentrant_gets_credit_once(escrow, verifier, employer):
    attacker, value = reclaimed_by_attacker(escrow, verifier, employer)
    held = escrow.balance()
    attacker.attack({"from": employer})
    assert attacker.reentries() == 1 and not attacker.reentrySucceeded()
    assert attacker.balance() == value == 2 * 3 * REWARD + BOUNTY
    assert escrow.balance() == held - value


def test_withdraw_refused_transfer_reverts(escrow, verifier, employer):
    attacker, value = reclaimed_by_attacker(escrow, verifier, employer)
    attacker.setRefuse(True, {"from": employer})
    with reverts("TransferFailed"):
        attacker.attack({"from": employer})
    assert escrow.creditOf(attacker) == value
