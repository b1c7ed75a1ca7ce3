from conftest import MIN_STAKE, reverts


def test_top_up_adds_stake(registry, nodes):
    tx = registry.topUp({"from": nodes[0], "value": 5})
    assert tx.events["StakeToppedUp"]["stake"] == MIN_STAKE + 5
    assert registry.stakeOf(nodes[0]) == MIN_STAKE + 5


def test_top_up_unregistered_reverts(registry, accounts):
    with reverts("NodeNotRegistered"):
        registry.topUp({"from": accounts[9], "value": 5})


def test_top_up_zero_reverts(registry, nodes):
    with reverts("StakeTooLow"):
        registry.topUp({"from": nodes[0], "value": 0})
