import os

from conftest import commitment, opening_key


def test_commitment_of_matches_encode_packed(escrow, accounts):
    rho, weights, rand = os.urandom(32), os.urandom(32), os.urandom(32)
    got = escrow.commitmentOf(rho, weights, 2**200 + 5, rand, accounts[3])
    assert got == "0x" + commitment(rho, weights, 2**200 + 5, rand, accounts[3]).hex()


def test_commitment_of_and_opening_key_match_zkpot_hashing(escrow, accounts):
    from zkpot.hashing import commitment as python_commitment
    from zkpot.hashing import opening_key as python_key

    for i in range(5):
        rho, weights, rand = os.urandom(32), os.urandom(32), os.urandom(32)
        model = int.from_bytes(os.urandom(32), "big")
        node = accounts[int.from_bytes(rand[:1], "big") % 10]
        assert escrow.commitmentOf(rho, weights, model, rand, node) == \
            "0x" + python_commitment(rho, weights, model, rand, node.address).hex()
        cid = f"bafy{i}" * (i + 1)
        assert escrow.openingKey(rho, weights, model, cid) == "0x" + python_key(rho, weights, model, cid).hex()
        assert python_key(rho, weights, model, cid) == opening_key(rho, weights, model, cid)
