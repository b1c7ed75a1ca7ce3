import os

from conftest import commitment


def test_commitment_of_matches_encode_packed(escrow, accounts):
    rho, rand = os.urandom(32), os.urandom(32)
    assert escrow.commitmentOf(rho, rand, accounts[3]) == "0x" + commitment(rho, rand, accounts[3]).hex()


def test_commitment_of_matches_zkpot_hashing(escrow, accounts):
    from zkpot.hashing import commitment as python_commitment

    for _ in range(5):
        rho, rand = os.urandom(32), os.urandom(32)
        node = accounts[int.from_bytes(rand[:1], "big") % 10]
        assert escrow.commitmentOf(rho, rand, node) == "0x" + python_commitment(rho, rand, node.address).hex()
