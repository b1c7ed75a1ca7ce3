"""Real ezkl proofs of the accuracy statement, checked in Python."""

from __future__ import annotations

import numpy as np
import pytest

from zkpot import zk
from zkpot.zk.prove import COMMITMENT_BYTES, TEST_SET_BYTES

from .conftest import CLASSES, FEATURES, N, SMALL, tiny_model

pytestmark = pytest.mark.zk


def test_valid_proof_verifies(circuit, proof, expected):
    assert zk.verify(circuit, proof, **expected, min_correct=proof.correct)
    assert not zk.verify(circuit, proof, **expected, min_correct=proof.correct + 1)


def test_verify_needs_the_expected_commitments(circuit, proof, expected):
    with pytest.raises(TypeError):
        zk.verify(circuit, proof)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        zk.verify(circuit, proof, model_commitment=None,
                  test_set_commitment=expected["test_set_commitment"])


def test_proof_states_the_model_and_test_set_commitments(circuit, model, test_set, certificate):
    X, y = test_set
    assert [p.test_set_commitment for p in certificate] == zk.test_set_commitments(circuit, X, y)
    h_w = zk.weights_commitment(circuit, model.state_dict())
    assert {p.model_commitment for p in certificate} == {h_w}


def test_proven_count_is_the_reference_count(circuit, model, test_set, certificate):
    X, y = test_set
    assert [p.correct for p in certificate] == [
        zk.reference_count(circuit, model.state_dict(), X[i:i + N], y[i:i + N]) for i in (0, N)]


def test_changed_count_fails(circuit, proof, expected):
    claimed = proof.with_instances([proof.correct + 1])
    assert claimed.correct == proof.correct + 1
    assert not zk.verify(circuit, claimed, **expected)


def test_corrupted_proof_fails(circuit, proof, expected):
    corrupted = bytearray(proof.proof)
    corrupted[len(corrupted) // 2] ^= 0x01
    assert not zk.verify(circuit, proof.with_proof(bytes(corrupted)), **expected)


def test_other_model_claiming_the_hash_fails(circuit, proof, forged, expected):
    # a valid proof of the other model, under its own commitment …
    assert zk.verify(circuit, forged, model_commitment=forged.model_commitment,
                     test_set_commitment=expected["test_set_commitment"])
    assert forged.model_commitment != proof.model_commitment
    assert not zk.verify(circuit, forged, **expected)
    # … cannot claim the committed model's: splicing it in breaks the proof
    spliced = forged.proof[:TEST_SET_BYTES] + proof.proof[TEST_SET_BYTES:COMMITMENT_BYTES] \
        + forged.proof[COMMITMENT_BYTES:]
    claimed = forged.with_proof(spliced)
    assert claimed.model_commitment == proof.model_commitment
    assert not zk.verify(circuit, claimed, **expected)


def test_other_test_set_fails(circuit, certificate, expected):
    other = certificate[1]  # a proof on T'
    assert other.test_set_commitment != expected["test_set_commitment"]
    assert not zk.verify(circuit, other, **expected)
    # splicing T's commitments into the proof on T' breaks it
    spliced = certificate[0].proof[:TEST_SET_BYTES] + other.proof[TEST_SET_BYTES:]
    assert other.with_proof(spliced).test_set_commitment == expected["test_set_commitment"]
    assert not zk.verify(circuit, other.with_proof(spliced),
                         model_commitment=other.model_commitment,
                         test_set_commitment=expected["test_set_commitment"])


def test_relabelled_test_set_changes_the_commitment(circuit, test_set):
    X, y = test_set
    relabelled = (y[:N] + 1) % CLASSES
    assert zk.test_set_commitment(circuit, X[:N], relabelled) != zk.test_set_commitment(circuit, X[:N], y[:N])


def test_weights_commitment_binds_the_certified_weights(circuit, model):
    other = tiny_model(2).state_dict()
    assert zk.weights_commitment(circuit, other) != zk.weights_commitment(circuit, model.state_dict())
    certified = zk.certify(circuit, model.state_dict())
    state = certified.state_dict()
    h_w = zk.weights_commitment(circuit, state)
    assert h_w == zk.weights_commitment(circuit, certified) \
        == zk.weights_commitment(circuit, model.state_dict())
    last = list(state)[-1]
    step = 2.0 ** -certified.scales[last]
    within = {k: v.clone() for k, v in state.items()}
    within[last][-1] += 0.3 * step            # rounds back to the same certified model
    beyond = {k: v.clone() for k, v in state.items()}
    beyond[last][-1] += step                  # one step on one bias: another model
    assert zk.matches_commitment(circuit, within, h_w)
    assert not zk.matches_commitment(circuit, beyond, h_w)
    assert zk.weights_commitment(circuit, beyond) != h_w


def test_proof_of_a_truncated_statement_fails(circuit, proof, expected):
    assert not zk.verify(circuit, proof.with_proof(proof.proof[:COMMITMENT_BYTES - 1]), **expected)
    assert not zk.verify(circuit, proof.with_instances([proof.model_commitment, proof.correct]),
                         **expected)


def test_second_ensure_circuit_reuses_the_cache(zk_settings, circuit):
    pk_mtime = circuit.pk_path.stat().st_mtime_ns
    again = zk.ensure_circuit(tiny_model(3), (FEATURES,), CLASSES, N, zk_settings, params=SMALL)
    assert not again.created
    assert again.dir == circuit.dir
    assert again.pk_path.stat().st_mtime_ns == pk_mtime
    assert zk.verify_files(again)


def test_shards_need_whole_multiples_of_n(circuit, test_set):
    X, y = test_set
    with pytest.raises(ValueError):
        zk.shards(circuit, X[: N + 1], y[: N + 1])
    assert np.array_equal(zk.shards(circuit, X, y)[1][0], X[N:])


def test_circuit_records_its_statement(circuit):
    statement = circuit.statement
    assert statement["margin_steps"] == circuit.margin_steps == 1
    assert statement["n"] == N and statement["logit_scale"] == 22
    assert circuit.info["params"]["margin_steps"] == 1
    assert len(circuit.statement_hash) == 32


def test_posted_shard_commits_to_what_the_circuit_evaluates(circuit, test_set):
    """Features on half steps of the grid: the shard the escrow commits to (its canonical
    bytes) holds the circuit's integers, so its c_T is that of the float features."""
    from zkpot.certified import quantise_inputs
    from zkpot.testset import decode_shard, encode_shard

    X, y = test_set
    step = 2.0 ** -circuit.params.scale
    halves = ((np.arange(N * FEATURES).reshape(N, FEATURES) % 7 - 3) + 0.5) * step
    xs = halves.astype(np.float32)
    shard = decode_shard(encode_shard(xs, y[:N], CLASSES, circuit.params.scale))
    assert np.array_equal(shard.features, quantise_inputs(xs, circuit.params.scale))
    assert zk.test_set_commitment(circuit, shard.x, shard.labels) \
        == zk.test_set_commitment(circuit, xs, y[:N])
