"""Tensor commitments: the documented leaf encoding, openings, and what an opening refuses."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zkpot.hashing import keccak
from zkpot.pot import merkle


def word(v: int) -> bytes:
    return (v % 2**64).to_bytes(8, "big")


def test_leaf_encoding_is_256_int64_words():
    assert merkle.LEAF_SIZE == 256 and merkle.LEAF_BYTES == 2048
    assert merkle.leaf_hash([-1]) == keccak(b"\x00" + b"\xff" * 8 + bytes(8 * 255))
    assert merkle.leaf_hash(range(256)) == keccak(b"\x00" + b"".join(word(v) for v in range(256)))
    assert merkle.pack([-2**63, 2**63 - 1]) == bytes.fromhex("8000000000000000" "7fffffffffffffff") + bytes(8 * 254)
    assert merkle.unpack(merkle.pack([5, -6]))[:3] == [5, -6, 0]
    one = merkle.tree([7])
    assert one.root == keccak(b"\x02" + (1).to_bytes(32, "big") + merkle.leaf_hash([7]))
    with pytest.raises(ValueError):
        merkle.leaf_hash(range(257))
    with pytest.raises(ValueError):
        merkle.leaf_hash(bytes(2047))                  # a leaf is exactly 2,048 bytes
    with pytest.raises(ValueError):
        merkle.unpack(bytes(2049))


def test_two_leaves_by_hand():
    values = list(range(-5, 251)) + [2**40]           # 257 values: a full leaf and a short one
    a, b = merkle.leaf_hash(values[:256]), merkle.leaf_hash(values[256:])
    top = keccak(b"\x01" + a + b)
    assert merkle.root(np.array(values)) == keccak(b"\x02" + (257).to_bytes(32, "big") + top)
    assert merkle.depth(256) == 0 and merkle.depth(257) == 1 and merkle.depth(256 * 5) == 3


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-2**63, 2**63 - 1), min_size=1, max_size=700), st.data())
def test_every_element_opens_and_nothing_else_does(values, data):
    t = merkle.tree(np.array(values, dtype=np.int64))
    # the int64 fast path and the Python-integer path agree
    assert t.root == merkle.tree(np.array(values, dtype=object)).root
    i = data.draw(st.integers(0, len(values) - 1))
    chunk, proof = t.chunk(i), t.proof(i)
    assert merkle.unpack(chunk)[i % 256] == values[i] and len(proof) == merkle.depth(len(values))
    assert merkle.verify(t.root, len(values), i, chunk, proof)
    forged = merkle.unpack(chunk)
    forged[i % 256] ^= 1
    assert not merkle.verify(t.root, len(values), i, merkle.pack(forged), proof)
    assert not merkle.verify(t.root, len(values) + 256, i, chunk, proof + [merkle.EMPTY])
    assert not merkle.verify(t.root, len(values), len(values), chunk, proof)
    assert not merkle.verify(t.root, len(values), i, chunk[:-8], proof)          # a short leaf


def test_values_outside_int64_and_other_refusals():
    edge = [2**63 - 1, -2**63, 0]
    t = merkle.tree(np.array(edge, dtype=object))
    assert merkle.verify(t.root, 3, 0, t.chunk(0), t.proof(0)) and merkle.unpack(t.chunk(0))[:3] == edge
    for bad in ([2**63], [-2**63 - 1], [2**92]):
        with pytest.raises(ValueError, match="64-bit"):
            merkle.tree(np.array(bad, dtype=object))
    with pytest.raises(ValueError, match="64-bit"):
        merkle.tree(np.array([2.0**63]))
    with pytest.raises(ValueError, match="64-bit"):
        merkle.tree(np.array([2**64 - 1], dtype=np.uint64))
    with pytest.raises(ValueError):
        merkle.tree(np.array([0.5]))
    with pytest.raises(ValueError):
        merkle.tree(np.array([], dtype=np.int64))
    with pytest.raises(IndexError):
        t.proof(3)


def test_a_large_tensor_hashed_on_two_threads_has_the_same_root():
    values = np.arange(-70_000, 70_001, dtype=np.int64) * 7919           # 547 leaves: the threaded path
    assert -(-values.size // merkle.LEAF_SIZE) > merkle.THREADED_LEAVES
    t = merkle.tree(values)
    assert t.root == merkle.tree(values.astype(object)).root
    i = 100_003
    assert merkle.verify(t.root, values.size, i, t.chunk(i), t.proof(i))
