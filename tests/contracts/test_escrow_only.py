from conftest import reverts


def test_lock_from_stranger_reverts(registry, nodes):
    with reverts("CallerNotEscrow"):
        registry.lock(nodes[0], False, {"from": nodes[0]})


def test_unlock_from_stranger_reverts(registry, nodes):
    with reverts("CallerNotEscrow"):
        registry.unlock(nodes[0], {"from": nodes[0]})


def test_slash_from_stranger_reverts(registry, nodes):
    with reverts("CallerNotEscrow"):
        registry.slash(nodes[1], {"from": nodes[0]})
