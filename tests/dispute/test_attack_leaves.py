"""Attacks on the 2,048-byte int64 leaves and on the checkpointed states of ``Side`` (review of
the change "tensor leaves of 256 int64 words ... a side keeps every 8th state"). Every test here
passes when the code defends: a value that fits int64 reads back exactly at every position
(0, 255, the last leaf, through dirty calldata), a leaf of any other length is refused, a liar
with an extreme value at word 255 loses, ``_int64`` refuses rather than silently changes a
value, and the honest side's re-run segments equal the full trace at every stage shape."""

from __future__ import annotations

import numpy as np
import pytest

from tests.dispute.conftest import BOND, dispute, mlp, reverts, side_for
from tests.dispute.ops import b32
from zkpot.chain.dispute import Challenger, Defender, play
from zkpot.hashing import keccak
from zkpot.pot import merkle
from zkpot.pot.game import Fabricated
from zkpot.pot.trace import trace_stage

LO, HI = -2**63, 2**63 - 1


# ---- merkle.py's conversion: refuses, never silently changes a value

def test_int64_extremes_round_trip_at_every_position():
    for pos in (0, 1, 254, 255):
        for v in (LO, HI, -1, 1):
            values = [0] * 256
            values[pos] = v
            assert merkle.unpack(merkle.pack(values))[pos] == v
            assert merkle.unpack(merkle.pack(np.array(values, dtype=object)))[pos] == v


@pytest.mark.parametrize("bad", [
    np.array([2**63], dtype=np.uint64),                 # would wrap to -2^63 under astype
    np.array([2**64 - 1], dtype=np.uint64),             # would wrap to -1
    np.array([True, False]),                            # bools are not integers here
    np.array([0.5]), np.array([np.nan]), np.array([np.inf]), np.array([-np.inf]),
    np.array([2.0**63]),                                # float just past int64
    np.array([2**63], dtype=object), np.array([LO - 1], dtype=object),
    np.array([1.0], dtype=object),                      # a float inside an object array
    np.array([1 + 0j]),
])
def test_values_that_do_not_fit_are_refused_not_wrapped(bad):
    with pytest.raises(ValueError):
        merkle.tree(bad)


def test_other_integer_dtypes_commit_the_same_values():
    v = np.array([LO, -5, 0, 7, HI], dtype=np.int64)
    ref = merkle.root(v)
    assert merkle.root(v.astype(">i8")) == ref                      # big-endian int64 input
    assert merkle.root(np.array(v.tolist(), dtype=object)) == ref   # Python ints
    assert merkle.root(np.array([5, 2**63 - 1], dtype=np.uint64)) == merkle.root([5, HI])
    assert merkle.root(np.array([-3, 4], dtype=np.int8)) == merkle.root([-3, 4])
    assert merkle.root(np.array([3.0, -2.0**62])) == merkle.root([3, -2**62])


def test_a_leaf_of_another_length_never_verifies_in_python():
    t = merkle.tree(np.arange(300))
    chunk, proof = t.chunk(299), t.proof(299)
    assert merkle.verify(t.root, 300, 299, chunk, proof)
    for other in (chunk[:-8], chunk + bytes(8), chunk + bytes(32), bytes(32 * 65)):
        assert not merkle.verify(t.root, 300, 299, other, proof)
        with pytest.raises(ValueError):
            merkle.leaf_hash(other)
    assert not merkle.verify(t.root, 300, 299, bytes(2048), proof)     # right length, other bytes
    # found by an attack: an absurd length or a sibling that is not 32 bytes raised instead
    assert not merkle.verify(t.root, 2**256, 299, chunk, [bytes(32)] * 248)
    assert not merkle.verify(t.root, 300, 299, chunk, ["00" * 32])
    assert not merkle.verify(t.root, 300, 299, chunk, [bytes(31)])


# ---- on chain: TensorMerkle.open through OneStepProver.addStep(0, term) = term

def _operand(t: merkle.TensorTree, i: int, chunk: bytes | None = None):
    return ((b32(t.root), t.n), (i, t.chunk(i) if chunk is None else chunk, [b32(p) for p in t.proof(i)]))


ZERO = merkle.tree([0])


def _open(prover, t, i, chunk=None):
    return prover.addStep(_operand(ZERO, 0), _operand(t, i, chunk))


def test_extremes_read_back_exactly_at_every_word_of_every_leaf(prover):
    n = 513                                   # two full leaves and one of one value (255 padding words)
    values = np.arange(n, dtype=np.int64) * 1_000_003 - 250_000_000
    probe = [0, 1, 7, 8, 254, 255, 256, 511, 512]
    for v in (LO, HI, -1, 1 << 62, -(1 << 62) - 1):
        vals = values.copy()
        vals[probe] = v
        t = merkle.tree(vals)
        for i in probe:
            assert _open(prover, t, i) == v, (v, i)
    t = merkle.tree(values)
    for i in (0, 255, 256, 300, 511, 512):
        assert _open(prover, t, i) == int(values[i])


def test_a_full_last_leaf_reads_word_255(prover):
    vals = np.full(512, 3, dtype=np.int64)
    vals[511], vals[255] = LO, HI
    t = merkle.tree(vals)
    assert _open(prover, t, 511) == LO and _open(prover, t, 255) == HI
    one = merkle.tree(np.array([HI] * 255 + [LO]))             # depth 0: the leaf is the top
    assert _open(prover, one, 255) == LO


def test_a_leaf_of_another_length_or_other_bytes_is_refused_on_chain(prover):
    t = merkle.tree(np.arange(600))
    chunk = t.chunk(599)
    for other in (chunk[:-8], chunk[:-1], chunk + bytes(1), chunk + bytes(32), b"", bytes(64 * 32)):
        with reverts("OpeningInvalid"):
            _open(prover, t, 599, other)
    flipped = chunk[:-1] + bytes([chunk[-1] ^ 1])
    with reverts("OpeningInvalid"):
        _open(prover, t, 599, flipped)
    # a fabricated tree whose leaf is 2,080 bytes (the leaf hash of a longer preimage) cannot be opened
    long_leaf = chunk + bytes(32)
    top = keccak(merkle.LEAF + long_leaf)
    root = keccak(merkle.ROOT + (200).to_bytes(32, "big") + top)
    fake = ((b32(root), 200), (199, long_leaf, []))
    with reverts("OpeningInvalid"):
        prover.addStep(_operand(ZERO, 0), fake)


def _word(x: int) -> bytes:
    return (x % 2**256).to_bytes(32, "big")


def _operand_bytes(root: bytes, n: int, index: int, chunk: bytes, proof: list[bytes], chunk_last: bool,
                   junk: bytes = b"") -> bytes:
    """One Operand, hand-encoded: with ``chunk_last`` the chunk's tail comes after the proof's (a
    valid, non-canonical order), so the word read at position 255 runs into ``junk``."""
    proof_tail = _word(len(proof)) + b"".join(proof)
    chunk_tail = _word(len(chunk)) + chunk + bytes(-len(chunk) % 32)
    head = 3 * 32
    if chunk_last:
        off_chunk, off_proof, tails = head + len(proof_tail), head, proof_tail + chunk_tail + junk
    else:
        off_chunk, off_proof, tails = head, head + len(chunk_tail), chunk_tail + proof_tail + junk
    opening = _word(index) + _word(off_chunk) + _word(off_proof) + tails
    return root + _word(n) + _word(3 * 32) + opening


def test_dirty_calldata_after_word_255_does_not_change_its_value(prover):
    fn = prover.contract.functions.addStep
    vals = np.zeros(256, dtype=np.int64)
    vals[255] = LO + 12345
    t = merkle.tree(vals)
    canonical = fn(_operand(ZERO, 0), _operand(t, 255))._encode_transaction_data()
    acc = _operand_bytes(ZERO.root, 1, 0, ZERO.chunk(0), [], chunk_last=False)
    for junk in (b"", b"\xff" * 64, b"\x80" + b"\x00" * 31, b"\x7f" * 24):
        term = _operand_bytes(t.root, 256, 255, t.chunk(255), [], chunk_last=True, junk=junk)
        data = fn(_operand(ZERO, 0), _operand(t, 255))._encode_transaction_data()[:10]
        data = bytes.fromhex(data[2:]) + _word(64) + _word(64 + len(acc)) + acc + term
        if not junk:
            plain = _operand_bytes(t.root, 256, 255, t.chunk(255), [], chunk_last=False)
            assert bytes.fromhex(canonical[2:]) == data[:4] + _word(64) + _word(64 + len(acc)) + acc + plain
        out = prover.client.w3.eth.call({"to": prover.contract.address, "data": "0x" + data.hex()})
        assert int.from_bytes(out, "big", signed=True) == LO + 12345, junk
    # a chunk whose length word says 2,048 but whose bytes run past the calldata is refused by the decoder
    term = _operand_bytes(t.root, 256, 255, t.chunk(255), [], chunk_last=True)[:-64]
    data = bytes.fromhex(canonical[2:10]) + _word(64) + _word(64 + len(acc)) + acc + term
    with pytest.raises(Exception):
        prover.client.w3.eth.call({"to": prover.contract.address, "data": "0x" + data.hex()})


# ---- the game: a lie of an extreme value at word 255

class Extreme(Fabricated):
    """A side whose element e of operation t of batch j is ``target`` (an int64 extreme), its
    reduction's last point too, and every state after made up: a lie of target - value."""

    def __init__(self, honest, j, t, e, target):
        super().__init__(honest, j, t, e, delta=target - honest.value(j, t, e))
        self.target = target


@pytest.fixture(scope="module")
def honest16():
    return side_for(mlp(0.9, batch=16))          # 41 samples: batches of 16, 16, 9


def test_a_side_refuses_queries_outside_its_trace_never_counting_from_the_end(honest16):
    # found by an attack: Python's negative indices answered with real-looking values
    side, n_ops = honest16, len(honest16.program.ops)
    t = side.program.index("Param", 0)                   # 1,040 elements: five leaves, three levels above
    tree = side.tensors(0)[t]
    top, n = len(tree.levels) - 1, tree.n
    assert top == 3 and side.value(0, t, n - 1) == int(tree.values[-1])
    assert side.children(0, t, top, 0)[0] != merkle.EMPTY
    for call in (lambda: side.value(-1, t, 0), lambda: side.value(3, t, 0), lambda: side.value(0, -1, 0),
                 lambda: side.value(0, n_ops, 0), lambda: side.value(0, t, -1), lambda: side.value(0, t, n),
                 lambda: side.leaf(0, t, -1), lambda: side.leaf(0, t, 5),
                 lambda: side.children(0, t, 0, 0), lambda: side.children(0, t, top + 1, 0),
                 lambda: side.children(0, t, top, 1), lambda: side.children(0, t, 1, -1),
                 lambda: side.partial(0, 0, 0, -1), lambda: side.partial(0, 0, -1, 0),
                 lambda: side.partial(0, 0, 0, 10**6)):
        with pytest.raises(IndexError):
            call()


def _game(accounts, deployment, defender_side, challenger_side):
    d = Defender(dispute(accounts, deployment, 1), defender_side)
    c = Challenger(dispute(accounts, deployment, 2), challenger_side)
    cid = d.claim(BOND)
    gid = c.challenge(cid)
    play(d.dispute, gid, d, c)
    return d.dispute.game(gid), d.dispute.events("ElementPicked", gid)


@pytest.mark.parametrize("target", [LO, HI])
@pytest.mark.parametrize("where", ["weightgrad-255", "fwd-last"])
def test_a_liar_defender_with_an_extreme_value_at_word_255_loses(accounts, deployment, honest16, target, where):
    p = honest16.program
    if where == "weightgrad-255":
        t, e = p.index("WeightGrad", 0), 255                # word 255 of the first of five leaves
    else:
        t = p.index("FwdLinear", 0)
        e = p.length(p.batches()[0][1], t) - 1              # 16 x 16 = 256: the one leaf's last word
        assert e == 255
    g, picked = _game(accounts, deployment, Extreme(honest16, 0, t, e, target), honest16)
    assert g["winner"] == accounts[2].address and g["op"] == t
    assert picked[-1]["element"] == e and picked[-1]["value"] == target


def test_a_liar_challenger_at_word_255_of_an_honest_leaf_loses(accounts, deployment, honest16):
    p = honest16.program
    t = p.index("FwdLinear", 0)
    g, picked = _game(accounts, deployment, honest16, Extreme(honest16, 0, t, 255, LO))
    assert g["winner"] == accounts[1].address
    assert picked[-1]["element"] == 255 and picked[-1]["value"] == honest16.value(0, t, 255)


# ---- Side: the checkpointed states at every batch count around 8

@pytest.mark.parametrize("samples", [2, 9, 16, 64, 65, 72, 73, 79, 127, 128, 129, 137])
def test_checkpointed_states_equal_the_full_trace(samples):
    side = side_for(mlp(0.9), samples=samples)
    full = trace_stage(side.spec, side.state, side.chunk, 1, roots_at=[], keep_states=True)
    assert sorted(full.states) == list(range(side.batches + 1))
    for k in reversed(range(side.batches + 1)):            # the last segment (the absorbed sample) first
        assert np.array_equal(side.state_vector(k), full.states[k]), (samples, k)
        assert side.state_root(k) == merkle.root(full.states[k])
    for j in range(side.batches):                            # a batch's operations from its state
        assert side.tensors(j)[-1].root == merkle.root(full.states[j + 1])


def test_a_liar_challenger_cannot_pick_into_zero_padding_or_past_word_255(accounts, deployment, honest16):
    p = honest16.program
    t = p.index("LossMax")                                   # 16 elements: one leaf, 240 zero words
    liar = Extreme(honest16, 0, t, 3, HI)
    d = Defender(dispute(accounts, deployment, 1), honest16)
    c = Challenger(dispute(accounts, deployment, 2), liar)
    gid = c.challenge(d.claim(BOND))
    while d.dispute.game(gid)["phase"] != "Element":
        assert d.move(gid) or c.move(gid)
    g = c.dispute.game(gid)
    assert g["op"] == t
    chunk = honest16.leaf(0, t, 0)
    for pos in (16, 200, 255):                               # padding, all zero: nothing to win there
        with reverts("PickInvalid"):
            c.dispute.send("pickElement", gid, c.program, pos, chunk)
    for pos, other in ((256, chunk), (2**255, chunk), (3, chunk + bytes(32)), (3, chunk[:-8]),
                       (3, chunk[:-8] + (7).to_bytes(8, "big"))):
        with reverts("PickInvalid"):
            c.dispute.send("pickElement", gid, c.program, pos, other)
    play(d.dispute, gid, d, c)
    assert d.dispute.game(gid)["winner"] == accounts[1].address
