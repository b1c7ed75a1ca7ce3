"""The cheapest attacks on stage agreement, as real transactions; races are mined in one block
ordered by tip (Anvil orders a block's transactions by priority fee).

Assumption the protocol states (docs/pot.md, "Stage agreement"): fewer than C fabricating
identities declare in a stage attempt, and at least C honest trainers declare in its commit
phase. Within it an honest group is finalised and paid and no node that did not train is paid;
beyond it every attack still costs its identities their collateral.
"""

import os
from contextlib import contextmanager

import pytest
from brownie import chain, web3
from eth_utils import keccak

from conftest import COMMIT_WINDOW, REVEAL_WINDOW, SLASH, Stage, commitment, create_job, reverts


@contextmanager
def one_block():
    """Transactions sent inside are mined together in one block when the block closes."""
    web3.provider.make_request("evm_setAutomine", [False])
    try:
        yield
    finally:
        web3.provider.make_request("evm_mine", [])
        web3.provider.make_request("evm_setAutomine", [True])


def racing(tip_gwei: int) -> dict:
    return {"required_confs": 0, "gas_limit": 400_000, "priority_fee": f"{tip_gwei} gwei",
            "max_fee": f"{tip_gwei + 1} gwei"}


def mined(tx) -> bool:
    """Whether a transaction sent with required_confs=0 succeeded once its block is mined."""
    return web3.eth.get_transaction_receipt(tx.txid)["status"] == 1


def settle_all(escrow, job, nodes):
    """Settle every node's declaration; the outcomes by address."""
    out = {}
    for node in nodes:
        tx = escrow.settle(job, node, {"from": node})
        out[node.address] = [name for name in ("DeclarationRewarded", "DeclarationReleased",
                                               "DeclarationSlashed") if name in tx.events][0]
    return out


def test_attack_front_running_copier_at_c1_is_slashed_not_paid(escrow, employer, verifier, nodes):
    # the watcher copies the trainer's pending declaration and outbids it into the same block:
    # it takes the attempt's only slot (2C - 1 = 1) with a commitment it cannot open
    job = create_job(escrow, employer, verifier, confirmations=1, stages=1)
    trainer, watcher = nodes[0], nodes[1]
    st = Stage(escrow, job, 1)
    rho, weights, model, cid = st.honest()
    rand = os.urandom(32)
    honest = commitment(rho, weights, model, rand, trainer)
    with one_block():
        genuine = escrow.declare(job, 1, honest, {"from": trainer, **racing(1)})
        copy = escrow.declare(job, 1, honest, {"from": watcher, **racing(50)})
    assert mined(copy) and not mined(genuine)                 # the copy was mined first
    with reverts("OpeningMismatch"):
        escrow.reveal(job, 1, (rho, weights, model, rand, cid), {"from": watcher})
    chain.sleep(COMMIT_WINDOW + REVEAL_WINDOW)
    assert settle_all(escrow, job, [watcher]) == {watcher.address: "DeclarationSlashed"}
    # the next attempt trains the stage in another order: the trainer's new result finalises it
    retry = Stage(escrow, job, 1)
    retry.declare(trainer)
    assert "StageFinalised" in retry.reveal(trainer).events
    assert escrow.creditOf(watcher) == 0


@pytest.mark.parametrize("confirmations", [2, 3, 5])
def test_attack_copiers_and_fabricators_below_c_cannot_win(escrow, employer, verifier, nodes, confirmations):
    # C honest trainers and C - 1 attackers fill the 2C - 1 slots; the attackers copy an honest
    # commitment (cannot open it) or all commit to one invented result (cannot reach C)
    job = create_job(escrow, employer, verifier, confirmations=confirmations, stages=1)
    honest, attackers = nodes[:confirmations], nodes[confirmations:2 * confirmations - 1]
    st = Stage(escrow, job, 1)
    invented = keccak(b"an invented training secret")
    with one_block():
        for i, node in enumerate(attackers):       # the attackers outbid everyone
            if i % 2 == 0:
                st.declare(node, rho=invented, weights=invented, tx=racing(100))
            else:
                st.declare(node, commit=keccak(b"a copy of nothing"), tx=racing(100))
        for node in honest:
            st.declare(node, tx=racing(1))
    assert escrow.attemptOf(job).dict()["declarations"] == 2 * confirmations - 1
    for node in attackers[::2]:
        st.reveal(node)                            # the invented result, opened first
    txs = [st.reveal(n) for n in honest]
    assert "StageFinalised" in txs[-1].events
    chain.sleep(REVEAL_WINDOW)
    outcomes = settle_all(escrow, job, honest + attackers)
    assert {outcomes[n.address] for n in honest} == {"DeclarationRewarded"}
    assert {outcomes[n.address] for n in attackers} <= {"DeclarationSlashed"}


def test_attack_exact_copiers_block_nothing_and_pay(escrow, registry, employer, verifier, nodes):
    # the old attack: ⌈C/2⌉ exact copies of the first declaration blocked C = 2 and 3 for free
    job = create_job(escrow, employer, verifier, confirmations=2, stages=1)
    st = Stage(escrow, job, 1)
    first = st.declare(nodes[0]).events["StageDeclared"]["commitment"]
    st.declare(nodes[2], commit=bytes(first))
    st.declare(nodes[1])
    st.reveal(nodes[0])
    assert "StageFinalised" in st.reveal(nodes[1]).events
    chain.sleep(REVEAL_WINDOW)
    assert settle_all(escrow, job, [nodes[2]]) == {nodes[2].address: "DeclarationSlashed"}
    assert registry.stakeOf(nodes[2]) == registry.minStake() - SLASH


def test_attack_flood_of_declarations_costs_bounded_gas(escrow, employer, verifier, nodes):
    # declarations beyond 2C - 1 are refused at once: a flood cannot make any transaction of
    # the stage heavier (the reveal and the settlement touch one record each)
    job = create_job(escrow, employer, verifier, confirmations=2, stages=1)
    st = Stage(escrow, job, 1)
    st.declare(nodes[3], rho=keccak(b"sybil"))
    st.declare(nodes[0])
    st.declare(nodes[1])
    for node in nodes[4:]:
        with reverts("CommitPhaseClosed"):
            st.declare(node)
    gas = [st.reveal(n).gas_used for n in (nodes[3], nodes[0], nodes[1])]
    assert max(gas) < 200_000


def test_attack_withholding_reveal_is_slashed(escrow, employer, job, nodes):
    st = Stage(escrow, job, 1)
    for node in nodes[:4]:
        st.declare(node)
    st.close_commit()
    for node in nodes[:3]:
        st.reveal(node)
    chain.sleep(REVEAL_WINDOW)
    before = escrow.creditOf(employer)
    assert settle_all(escrow, job, [nodes[3]]) == {nodes[3].address: "DeclarationSlashed"}
    assert escrow.creditOf(employer) - before == SLASH


def test_attack_failed_attempt_leaks_nothing_reusable(escrow, job, nodes):
    # two honest openings in a failed attempt make its values public; a copier who declares
    # them in the next attempt (its commitment binds its own address, so it can open them)
    # opens values of the old order, not the ones the next attempt's trainers agree on
    st = Stage(escrow, job, 1)
    for node in nodes[:2]:
        st.declare(node)
    st.close_commit()
    for node in nodes[:2]:
        st.reveal(node)
    chain.sleep(REVEAL_WINDOW)
    retry = Stage(escrow, job, 1)                    # attempt 1: new order, new ρ and S
    retry.declare(nodes[5], rho=st.rho, weights=st.weights)   # the copier reuses attempt 0's
    for node in nodes[:3]:
        retry.declare(node)
    retry.close_commit()
    retry.reveal(nodes[5])
    txs = [retry.reveal(n) for n in nodes[:3]]
    assert "StageFinalised" in txs[-1].events
    chain.sleep(REVEAL_WINDOW)
    assert settle_all(escrow, job, [nodes[5]]) == {nodes[5].address: "DeclarationSlashed"}
    assert escrow.creditOf(nodes[5]) == 0
