"""Real ezkl proofs of the accuracy statement, checked in Python."""

from __future__ import annotations

import numpy as np
import pytest

from zkpot import zk
from zkpot.zk.prove import COMMITMENT_BYTES, TEST_SET_BYTES

from .conftest import CLASSES, FEATURES, N, tiny_model

pytestmark = pytest.mark.zk


def test_valid_proof_verifies(circuit, model, test_set, proof):
    X, y = test_set
    h_w = zk.weights_commitment(circuit, model.state_dict())
    c_t = zk.test_set_commitment(circuit, X[:N], y[:N])
    assert zk.verify(circuit, proof, model_commitment=h_w, test_set_commitment=c_t,
                     min_correct=proof.correct)


def test_proof_states_the_model_and_test_set_commitments(circuit, model, test_set, certificate):
    X, y = test_set
    assert [p.test_set_commitment for p in certificate] == zk.test_set_commitments(circuit, X, y)
    h_w = zk.weights_commitment(circuit, model.state_dict())
    assert {p.model_commitment for p in certificate} == {h_w}


def test_proven_count_equals_float_count(model, test_set, certificate):
    X, y = test_set
    assert sum(p.correct for p in certificate) == zk.count_float(model, X, y)
    assert [p.correct for p in certificate] == [zk.count_float(model, X[i:i + N], y[i:i + N])
                                                 for i in (0, N)]


def test_changed_count_fails(circuit, proof):
    claimed = proof.with_instances([proof.correct + 1])
    assert claimed.correct == proof.correct + 1
    assert not zk.verify(circuit, claimed)


def test_corrupted_proof_fails(circuit, proof):
    corrupted = bytearray(proof.proof)
    corrupted[len(corrupted) // 2] ^= 0x01
    assert not zk.verify(circuit, proof.with_proof(bytes(corrupted)))


def test_other_model_claiming_the_hash_fails(circuit, proof, forged):
    assert zk.verify(circuit, forged)  # a valid proof of the other model …
    assert forged.model_commitment != proof.model_commitment
    assert not zk.verify(circuit, forged, model_commitment=proof.model_commitment)
    # … that cannot claim the committed model's commitment: splicing it in breaks the proof
    spliced = forged.proof[:TEST_SET_BYTES] + proof.proof[TEST_SET_BYTES:COMMITMENT_BYTES] \
        + forged.proof[COMMITMENT_BYTES:]
    claimed = forged.with_proof(spliced)
    assert claimed.model_commitment == proof.model_commitment
    assert not zk.verify(circuit, claimed)


def test_other_test_set_fails(circuit, test_set, certificate):
    X, y = test_set
    claimed_c_t = zk.test_set_commitment(circuit, X[:N], y[:N])
    other = certificate[1]  # a proof on T'
    assert other.test_set_commitment != claimed_c_t
    assert not zk.verify(circuit, other, test_set_commitment=claimed_c_t)
    # splicing T's commitments into the proof on T' breaks it
    spliced = certificate[0].proof[:TEST_SET_BYTES] + other.proof[TEST_SET_BYTES:]
    assert other.with_proof(spliced).test_set_commitment == claimed_c_t
    assert not zk.verify(circuit, other.with_proof(spliced))


def test_relabelled_test_set_changes_the_commitment(circuit, test_set):
    X, y = test_set
    relabelled = (y[:N] + 1) % CLASSES
    assert zk.test_set_commitment(circuit, X[:N], relabelled) != zk.test_set_commitment(circuit, X[:N], y[:N])


def test_weights_commitment_binds_the_weights(circuit, model):
    other = tiny_model(2).state_dict()
    assert zk.weights_commitment(circuit, other) != zk.weights_commitment(circuit, model.state_dict())


def test_weights_commitment_binds_every_weight(circuit, model):
    state = {k: v.clone() for k, v in model.state_dict().items()}
    h_w = zk.weights_commitment(circuit, state)
    last = list(state)[-1]
    state[last][-1] += 2.0 ** -circuit.params.scale  # one quantisation step on one bias
    assert zk.weights_commitment(circuit, state) != h_w


def test_proof_of_a_truncated_statement_fails(circuit, proof):
    assert not zk.verify(circuit, proof.with_proof(proof.proof[:COMMITMENT_BYTES - 1]))
    assert not zk.verify(circuit, proof.with_instances([proof.model_commitment, proof.correct]))


def test_second_ensure_circuit_reuses_the_cache(zk_settings, circuit):
    pk_mtime = circuit.pk_path.stat().st_mtime_ns
    again = zk.ensure_circuit(tiny_model(3), (FEATURES,), CLASSES, N, zk_settings)
    assert not again.created
    assert again.dir == circuit.dir
    assert again.pk_path.stat().st_mtime_ns == pk_mtime
    assert zk.verify_files(again)


def test_shards_need_whole_multiples_of_n(circuit, test_set):
    X, y = test_set
    with pytest.raises(ValueError):
        zk.shards(circuit, X[: N + 1], y[: N + 1])
    assert np.array_equal(zk.shards(circuit, X, y)[1][0], X[N:])
