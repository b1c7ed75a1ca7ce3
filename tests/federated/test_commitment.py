import pytest
from eth_abi.packed import encode_packed
from eth_utils import keccak

from zkpot.federated.commitment import update_commitment

ALICE = "0x" + "aa" * 20
BOB = "0x" + "bb" * 20
BASE = dict(task_id=3, round_=1, participant=ALICE, model_commitment=2**253 + 7, cid="bafkreiexample")


def test_update_commitment_is_solidity_encode_packed_of_the_update():
    packed = encode_packed(["uint256", "uint32", "address", "uint256", "bytes32"],
                           [3, 1, ALICE, 2**253 + 7, keccak(text="bafkreiexample")])
    assert update_commitment(**BASE) == keccak(packed)


@pytest.mark.parametrize("field,other", [("participant", BOB), ("model_commitment", 2**253 + 8),
                                         ("cid", "bafkreiother"), ("round_", 2), ("task_id", 4)])
def test_update_commitment_binds_every_part(field, other):
    # another sender (a copier), update, round or task never opens the same commitment
    assert update_commitment(**{**BASE, field: other}) != update_commitment(**BASE)


def test_update_commitment_reads_addresses_in_any_case():
    assert update_commitment(**{**BASE, "participant": ALICE.upper().replace("0X", "0x")}) == update_commitment(**BASE)


def test_update_commitment_refuses_a_malformed_address():
    with pytest.raises(ValueError):
        update_commitment(**{**BASE, "participant": "0x1234"})
