"""Hashing: keccak, the canonical state serialisation, and the declaration commitment."""

import numpy as np
import pytest

from zkpot.hashing import (opening_key, commitment, deserialize_state, keccak, random_rand, serialize_state,
                           weights_hash)


def test_keccak_is_ethereum_keccak256():
    assert keccak(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    assert keccak(b"abc").hex() == "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"


def test_keccak_agrees_with_eth_hash_across_block_boundaries():
    from eth_hash.auto import keccak as eth_keccak

    rng = np.random.default_rng(5)
    for n in (1, 8, 40, 135, 136, 137, 271, 272, 273, 1000, 20_000):
        data = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        assert keccak(data) == eth_keccak(data)
    assert keccak(bytearray(b"ab")) == keccak(memoryview(b"ab")) == eth_keccak(b"ab")


def test_commitment_is_packed_rho_weights_model_rand_address():
    rho, weights, rand = bytes(range(32)), bytes(range(32, 64)), bytes(range(64, 96))
    node = "0x" + "ab" * 20
    # abi.encodePacked(bytes32, bytes32, uint256, bytes32, address) = 32+32+32+32+20 bytes
    packed = rho + weights + (7).to_bytes(32, "big") + rand + bytes.fromhex("ab" * 20)
    assert len(packed) == 148
    assert commitment(rho, weights, 7, rand, node) == keccak(packed)
    assert commitment("0x" + rho.hex(), "0x" + weights.hex(), 7, "0x" + rand.hex(), "0x" + "AB" * 20) == keccak(packed)


def test_commitment_binds_every_value_and_the_node_address():
    rho, w, rand, node = b"\x01" * 32, b"\x02" * 32, b"\x03" * 32, "0x" + "11" * 20
    base = commitment(rho, w, 5, rand, node)
    assert len({base, commitment(rho, w, 5, rand, "0x" + "12" * 20), commitment(b"\x09" * 32, w, 5, rand, node),
                commitment(rho, b"\x09" * 32, 5, rand, node), commitment(rho, w, 6, rand, node),
                commitment(rho, w, 5, b"\x09" * 32, node)}) == 6


def test_opening_key_binds_the_cid():
    rho, w = b"\x01" * 32, b"\x02" * 32
    assert opening_key(rho, w, 0, "bafya") != opening_key(rho, w, 0, "bafyb")
    assert opening_key(rho, w, 0, "bafya") == keccak(rho + w + bytes(32) + keccak(b"bafya"))


@pytest.mark.parametrize("rho,rand,node,what", [
    (b"\x00" * 31, b"\x00" * 32, "0x" + "00" * 20, "rho must be 32 bytes"),
    (b"\x00" * 32, b"\x00" * 33, "0x" + "00" * 20, "rand must be 32 bytes"),
    (b"\x00" * 32, b"\x00" * 32, "0x" + "00" * 19, "node address must be 20 bytes"),
])
def test_commitment_rejects_wrong_lengths(rho, rand, node, what):
    with pytest.raises(ValueError, match=what):
        commitment(rho, b"\x00" * 32, 0, rand, node)
    with pytest.raises(ValueError, match="not a uint256"):
        commitment(b"\x00" * 32, b"\x00" * 32, -1, b"\x00" * 32, "0x" + "00" * 20)


def test_random_rand_is_32_fresh_bytes():
    a, b = random_rand(), random_rand()
    assert len(a) == 32 and a != b


def test_state_serialisation_layout_and_roundtrip():
    tensors = {"0.weight": np.array([[1, -2]], dtype=np.int64), "0.bias": np.array([3], dtype=np.int64)}
    data = serialize_state(tensors, {"step": 5})
    header = b'{"meta":{"step":5},"tensors":[["0.weight",[1,2]],["0.bias",[1]]]}'
    payload = (1).to_bytes(8, "big") + (-2).to_bytes(8, "big", signed=True) + (3).to_bytes(8, "big")
    assert data == b"ZKPOTS1\n" + header + b"\n" + payload
    back, meta = deserialize_state(data)
    assert meta == {"step": 5} and list(back) == ["0.weight", "0.bias"]
    assert all(np.array_equal(back[k], tensors[k]) for k in tensors)


def test_weights_hash_changes_with_one_weight():
    tensors = {"w": np.arange(100, dtype=np.int64).reshape(10, 10)}
    tampered = {"w": tensors["w"].copy()}
    tampered["w"][7, 3] += 1
    assert weights_hash(tensors) != weights_hash(tampered)
    assert weights_hash(tensors) == weights_hash(serialize_state(tensors))


@pytest.mark.parametrize("data,msg", [
    (b"nope", "missing magic"),
    (b"ZKPOTS1\n{}", "no header terminator"),
    (b'ZKPOTS1\n{"meta":{},"tensors":[["w",[2]]]}\n' + b"\x00" * 8, "truncated"),
    (b'ZKPOTS1\n{"meta":{},"tensors":[["w",[1]]]}\n' + b"\x00" * 9, "trailing"),
])
def test_deserialize_rejects_bad_bytes(data, msg):
    with pytest.raises(ValueError, match=msg):
        deserialize_state(data)


def test_serialize_rejects_float_tensors():
    with pytest.raises(ValueError, match="integers only"):
        serialize_state({"w": np.zeros(2)})


def test_keccak_chain_links_each_value_to_the_previous():
    from zkpot.hashing import keccak_chain

    chain = keccak_chain([b"a", b"b", b"c"])
    assert chain[0] == keccak(b"a") and chain[1] == keccak(b"b" + chain[0]) and chain[2] == keccak(b"c" + chain[1])


def test_keccak_without_pysha3_gives_the_same_hashes():
    import subprocess
    import sys

    from zkpot.hashing import keccak_chain

    # pycryptodome's keccak then: the same hashes and eq. 1 chain, across block boundaries
    items = [bytes([i]) * n for i, n in enumerate((8, 135, 136, 137, 0))]
    script = ("import sys; sys.modules['sha3'] = None\n"
              "from zkpot.hashing import _hasher, keccak, keccak_chain\n"
              "assert _hasher.__module__ == 'zkpot.hashing', _hasher\n"
              f"items = [bytes.fromhex(h) for h in {[i.hex() for i in items]!r}]\n"
              "print(keccak(b'abc').hex(), *(h.hex() for h in keccak_chain(items)))")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
    assert out == [keccak(b"abc").hex(), *(h.hex() for h in keccak_chain(items))]
