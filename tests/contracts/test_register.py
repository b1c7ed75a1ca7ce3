from conftest import MIN_STAKE, reverts


def test_register_stakes_and_emits(registry, accounts):
    tx = registry.register({"from": accounts[9], "value": MIN_STAKE})
    assert tx.events["NodeRegistered"]["stake"] == MIN_STAKE
    assert registry.stakeOf(accounts[9]) == MIN_STAKE and registry.isActive(accounts[9])
    assert registry.totalStaked() == MIN_STAKE


def test_register_below_minimum_reverts(registry, accounts):
    with reverts("StakeTooLow"):
        registry.register({"from": accounts[9], "value": MIN_STAKE - 1})


def test_register_twice_reverts(registry, nodes):
    with reverts("NodeAlreadyRegistered"):
        registry.register({"from": nodes[0], "value": MIN_STAKE})
