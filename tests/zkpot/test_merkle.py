"""Tensor commitments: the documented leaf encoding, openings, and what an opening refuses."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zkpot.hashing import keccak
from zkpot.pot import merkle


def test_leaf_encoding_is_the_documented_int256_word():
    assert merkle.leaf_hash(-1) == keccak(b"\x00" + b"\xff" * 32)
    assert merkle.leaf_hash(5) == keccak(b"\x00" + bytes(31) + b"\x05")
    one = merkle.tree([7])
    assert one.root == keccak(b"\x02" + (1).to_bytes(32, "big") + merkle.leaf_hash(7))


def test_two_leaves_by_hand():
    a, b = merkle.leaf_hash(-3), merkle.leaf_hash(2**40)
    top = keccak(b"\x01" + a + b)
    assert merkle.root(np.array([-3, 2**40])) == keccak(b"\x02" + (2).to_bytes(32, "big") + top)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-2**63, 2**63 - 1), min_size=1, max_size=70), st.data())
def test_every_element_opens_and_nothing_else_does(values, data):
    t = merkle.tree(np.array(values, dtype=np.int64))
    # the int64 fast path and the Python-integer path agree
    assert t.root == merkle.tree(np.array(values, dtype=object)).root
    i = data.draw(st.integers(0, len(values) - 1))
    proof = t.proof(i)
    assert len(proof) == merkle.depth(len(values))
    assert merkle.verify(t.root, len(values), i, values[i], proof)
    assert not merkle.verify(t.root, len(values), i, values[i] + 1, proof)
    assert not merkle.verify(t.root, len(values) + 1, i, values[i], proof + [merkle.EMPTY])
    if len(values) > 1:
        j = (i + 1) % len(values)
        assert not merkle.verify(t.root, len(values), j, values[i], proof) or values[j] == values[i]


def test_large_integers_and_refusals():
    big = [2**92, -2**92 + 1, 0]
    t = merkle.tree(np.array(big, dtype=object))
    assert merkle.verify(t.root, 3, 0, 2**92, t.proof(0))
    with pytest.raises(ValueError):
        merkle.tree(np.array([0.5]))
    with pytest.raises(ValueError):
        merkle.tree(np.array([], dtype=np.int64))
    with pytest.raises(IndexError):
        t.proof(3)
