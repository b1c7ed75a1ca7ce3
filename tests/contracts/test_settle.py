from brownie import chain
from eth_utils import keccak

from conftest import (BOUNTY, DAY, REVEAL_WINDOW, REWARD, SLASH, Stage, create_job, finish_training, proof,
                      publish_test_set, reverts, SHARD)


def settle(escrow, job, node, by=None):
    return escrow.settle(job, node, {"from": by or node})


def test_settle_pays_the_first_c_agreeing_openings(escrow, registry, job, nodes):
    Stage(escrow, job, 1).run(nodes[:3])
    for node in nodes[:3]:
        tx = settle(escrow, job, node)
        assert tx.events["DeclarationRewarded"]["amount"] == REWARD
        assert escrow.creditOf(node) == REWARD
        assert registry.nodeOf(node).dict()["locked"] == 0
    assert escrow.getJob(job).dict()["owed"] == 0


def test_settle_releases_a_late_agreeing_opening(escrow, registry, job, nodes):
    st = Stage(escrow, job, 1)
    for node in nodes[:4]:
        st.declare(node)
    st.close_commit()
    for node in nodes[:4]:
        st.reveal(node)
    tx = settle(escrow, job, nodes[3])
    assert "DeclarationReleased" in tx.events and escrow.creditOf(nodes[3]) == 0
    assert registry.nodeOf(nodes[3]).dict()["locked"] == 0


def test_settle_slashes_other_values_and_pays_the_employer(escrow, registry, employer, job, nodes):
    st = Stage(escrow, job, 1)
    st.declare(nodes[3], weights=keccak(b"invented"))
    st.run(nodes[:3])
    st.reveal(nodes[3])
    before = escrow.creditOf(employer)
    tx = settle(escrow, job, nodes[3], by=employer)
    ev = tx.events["DeclarationSlashed"]
    assert (ev["node"], ev["amount"], ev["reason"]) == (nodes[3], SLASH, 1)
    assert escrow.creditOf(employer) - before == SLASH
    n = registry.nodeOf(nodes[3]).dict()
    assert (n["stake"], n["locked"]) == (registry.minStake() - SLASH, 0)


def test_settle_slashes_an_unopened_declaration_after_its_reveal_phase(escrow, employer, job, nodes):
    st = Stage(escrow, job, 1)
    st.declare(nodes[3])
    st.run(nodes[:3])
    with reverts("SettlementPending"):
        settle(escrow, job, nodes[3], by=employer)
    chain.sleep(REVEAL_WINDOW)
    assert settle(escrow, job, nodes[3], by=employer).events["DeclarationSlashed"]["reason"] == 0


def test_settle_a_failed_attempt_releases_openers_and_slashes_the_others(escrow, job, nodes):
    st = Stage(escrow, job, 1)
    for node in nodes[:3]:
        st.declare(node)
    st.close_commit()
    st.reveal(nodes[0])
    st.reveal(nodes[1])
    with reverts("SettlementPending"):
        settle(escrow, job, nodes[0])
    chain.sleep(REVEAL_WINDOW)
    assert "DeclarationReleased" in settle(escrow, job, nodes[0]).events
    assert "DeclarationSlashed" in settle(escrow, job, nodes[2]).events


def test_settle_pending_during_the_commit_phase(escrow, job, nodes):
    Stage(escrow, job, 1).declare(nodes[0])
    with reverts("SettlementPending"):
        settle(escrow, job, nodes[0])


def test_settle_twice_reverts(escrow, job, nodes):
    Stage(escrow, job, 1).run(nodes[:3])
    settle(escrow, job, nodes[0])
    with reverts("NothingToSettle"):
        settle(escrow, job, nodes[0])


def test_settle_nothing_reverts(escrow, job, nodes):
    with reverts("NothingToSettle"):
        settle(escrow, job, nodes[0])


def test_settle_by_anyone_credits_the_node(escrow, job, nodes, accounts):
    Stage(escrow, job, 1).run(nodes[:3])
    settle(escrow, job, nodes[0], by=accounts[9])
    assert escrow.creditOf(nodes[0]) == REWARD and escrow.creditOf(accounts[9]) == 0


def test_settle_pays_the_bounty_shares_once_the_job_completes(escrow, employer, verifier, nodes):
    job = create_job(escrow, employer, verifier, bounty=BOUNTY + 2)   # not a multiple of 3
    last = finish_training(escrow, job, nodes)
    settle(escrow, job, nodes[0])                # the reward; the bounty is not due yet
    publish_test_set(escrow, job, employer)
    escrow.submitAccuracyProof(job, 0, proof(SHARD, last.model, 60), [60], {"from": employer})
    shares = {}
    for node in nodes[:3]:
        tx = settle(escrow, job, node)
        shares[node.address] = tx.events["BountyPaid"]["amount"]
    assert sum(shares.values()) == BOUNTY + 2
    # equal shares; the rounding remainder to the C-th opener
    positions = {n.address: escrow.declarationOf(job, n).dict()["position"] for n in nodes[:3]}
    third = [a for a, p in positions.items() if p == 3][0]
    assert shares[third] == (BOUNTY + 2) - 2 * ((BOUNTY + 2) // 3)
    assert escrow.getJob(job).dict()["owed"] == 0
    with reverts("NothingToSettle"):
        settle(escrow, job, nodes[0])


def test_settle_pays_no_bounty_when_the_job_failed(escrow, employer, job, nodes):
    last = finish_training(escrow, job, nodes)
    publish_test_set(escrow, job, employer)
    escrow.submitAccuracyProof(job, 0, proof(SHARD, last.model, 10), [10], {"from": employer})
    tx = settle(escrow, job, nodes[0])
    assert "BountyPaid" not in tx.events
    with reverts("NothingToSettle"):
        settle(escrow, job, nodes[0])


def test_settle_pays_the_bounty_when_forfeited(escrow, job, nodes):
    finish_training(escrow, job, nodes)
    chain.sleep(DAY + 1)
    escrow.forfeitBounty(job, {"from": nodes[5]})
    paid = {}
    for node in nodes[:3]:
        tx = settle(escrow, job, node)
        assert tx.events["DeclarationRewarded"]["amount"] == REWARD
        paid[escrow.declarationOf(job, node).dict()["position"]] = tx.events["BountyPaid"]["amount"]
    assert paid == {1: BOUNTY // 3, 2: BOUNTY // 3, 3: BOUNTY - 2 * (BOUNTY // 3)}
