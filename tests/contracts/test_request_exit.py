from conftest import reverts


def test_request_exit_starts_cooldown(registry, nodes):
    tx = registry.requestExit({"from": nodes[0]})
    assert tx.events["ExitRequested"]["exitAt"] == registry.nodeOf(nodes[0])[2] > 0
    assert not registry.isActive(nodes[0])


def test_request_exit_twice_reverts(registry, nodes):
    registry.requestExit({"from": nodes[0]})
    with reverts("NodeExiting"):
        registry.requestExit({"from": nodes[0]})


def test_request_exit_unregistered_reverts(registry, accounts):
    with reverts("NodeNotRegistered"):
        registry.requestExit({"from": accounts[9]})
