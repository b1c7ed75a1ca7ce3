from brownie import chain

from conftest import COOLDOWN, MIN_STAKE, Stage, reverts


def test_exit_after_cooldown_credits_stake(registry, nodes):
    registry.requestExit({"from": nodes[0]})
    chain.sleep(COOLDOWN + 1)
    tx = registry.exit({"from": nodes[0]})
    assert tx.events["NodeExited"]["stake"] == MIN_STAKE
    assert registry.creditOf(nodes[0]) == MIN_STAKE and registry.stakeOf(nodes[0]) == 0
    registry.withdraw({"from": nodes[0]})
    assert registry.balance() == registry.totalStaked() - MIN_STAKE


def test_exit_during_cooldown_reverts(registry, nodes):
    registry.requestExit({"from": nodes[0]})
    with reverts("ExitNotReady"):
        registry.exit({"from": nodes[0]})


def test_exit_with_an_open_declaration_reverts_until_it_is_settled(escrow, registry, job, nodes):
    st = Stage(escrow, job, 1)
    st.declare(nodes[0])
    registry.requestExit({"from": nodes[0]})
    chain.sleep(COOLDOWN + 1)
    with reverts("CollateralLocked"):
        registry.exit({"from": nodes[0]})
    # unopened, it is slashed once its reveal phase is over; then the rest of the stake leaves
    escrow.settle(job, nodes[0], {"from": nodes[1]})
    assert registry.exit({"from": nodes[0]}).events["NodeExited"]["stake"] == MIN_STAKE - registry.slashAmount()


def test_exit_without_request_reverts(registry, nodes):
    with reverts("ExitNotRequested"):
        registry.exit({"from": nodes[0]})


def test_exit_unregistered_reverts(registry, accounts):
    with reverts("NodeNotRegistered"):
        registry.exit({"from": accounts[9]})
