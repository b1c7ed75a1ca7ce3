"""Tensor commitments: the documented leaf encoding, openings, and what an opening refuses."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zkpot.hashing import keccak
from zkpot.pot import merkle


def word(v: int) -> bytes:
    return (v % 2**256).to_bytes(32, "big")


def test_leaf_encoding_is_sixty_four_int256_words():
    assert merkle.leaf_hash([-1]) == keccak(b"\x00" + b"\xff" * 32 + bytes(32 * 63))
    assert merkle.leaf_hash(range(64)) == keccak(b"\x00" + b"".join(word(v) for v in range(64)))
    one = merkle.tree([7])
    assert one.root == keccak(b"\x02" + (1).to_bytes(32, "big") + merkle.leaf_hash([7]))
    with pytest.raises(ValueError):
        merkle.leaf_hash(range(65))


def test_two_leaves_by_hand():
    values = list(range(-5, 63)) + [2**40]            # 69 values: a full leaf and a short one
    a, b = merkle.leaf_hash(values[:64]), merkle.leaf_hash(values[64:])
    top = keccak(b"\x01" + a + b)
    assert merkle.root(np.array(values)) == keccak(b"\x02" + (69).to_bytes(32, "big") + top)
    assert merkle.depth(64) == 0 and merkle.depth(65) == 1 and merkle.depth(64 * 5) == 3


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-2**63, 2**63 - 1), min_size=1, max_size=300), st.data())
def test_every_element_opens_and_nothing_else_does(values, data):
    t = merkle.tree(np.array(values, dtype=np.int64))
    # the int64 fast path and the Python-integer path agree
    assert t.root == merkle.tree(np.array(values, dtype=object)).root
    i = data.draw(st.integers(0, len(values) - 1))
    chunk, proof = t.chunk(i), t.proof(i)
    assert chunk[i % 64] == values[i] and len(proof) == merkle.depth(len(values))
    assert merkle.verify(t.root, len(values), i, chunk, proof)
    forged = list(chunk)
    forged[i % 64] += 1
    assert not merkle.verify(t.root, len(values), i, forged, proof)
    assert not merkle.verify(t.root, len(values) + 64, i, chunk, proof + [merkle.EMPTY])
    assert not merkle.verify(t.root, len(values), len(values), chunk, proof)


def test_large_integers_and_refusals():
    big = [2**92, -2**92 + 1, 0]
    t = merkle.tree(np.array(big, dtype=object))
    assert merkle.verify(t.root, 3, 0, t.chunk(0), t.proof(0)) and t.chunk(0)[:3] == big
    with pytest.raises(ValueError):
        merkle.tree(np.array([0.5]))
    with pytest.raises(ValueError):
        merkle.tree(np.array([], dtype=np.int64))
    with pytest.raises(IndexError):
        t.proof(3)


def test_a_large_tensor_hashed_on_two_threads_has_the_same_root():
    values = np.arange(-70_000, 70_001, dtype=np.int64) * 7919           # 2,188 leaves: the threaded path
    assert -(-values.size // merkle.LEAF_SIZE) > merkle.THREADED_LEAVES
    t = merkle.tree(values)
    assert t.root == merkle.tree(values.astype(object)).root
    i = 100_003
    assert merkle.verify(t.root, values.size, i, t.chunk(i), t.proof(i))
