from conftest import reverts


def test_lock_stake_from_stranger_reverts(registry, nodes):
    with reverts("CallerNotEscrow"):
        registry.lockStake(nodes[0], 2**39, {"from": nodes[0]})


def test_slash_from_stranger_reverts(registry, nodes):
    with reverts("CallerNotEscrow"):
        registry.slash(nodes[1], {"from": nodes[0]})
