"""What a certificate counts, proven for real: degenerate models, samples on the decision
boundary, labels that are not one-hot, the margin δ, PoT states. Proven == reference, always."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from zkpot import certified as cm
from zkpot import zk
from zkpot.stage import TrainingState, weights_to_float_state_dict
from zkpot.zk.prove import prove_rows

from .conftest import CLASSES, DEGENERATE, FEATURES, N, SMALL, state_of, tiny_model

pytestmark = pytest.mark.zk

STEP = 2.0 ** -22          # one step of the tiny circuit's logits (scale 7 + 7 + 1 + 7)


def boundary_model() -> dict[str, torch.Tensor]:
    """Integer logits (in steps): z_0 = 2 x_q0, z_1 = 129, z_2 = 2 x_q1, z_3 far below, where
    x_qk = round(128 x_k) (the hidden unit h_k = x_qk at scale 14, doubled by the ReLU)."""
    w1 = np.zeros((8, FEATURES)); w1[0, 0] = w1[1, 1] = 1 / 128
    w2 = np.zeros((CLASSES, 8)); w2[0, 0] = w2[2, 1] = 1 / 128
    b2 = np.array([0.0, 129 * STEP, 0.0, -8.0])
    return state_of(**{"0_weight": w1, "2_weight": w2, "2_bias": b2})


def boundary_set() -> tuple[np.ndarray, np.ndarray]:
    """Margins of exactly -1, +1, 0 (a tie with class 2), 2 steps; half-step inputs that round
    away from zero (65.5 -> 66 makes a tie, 64.5 -> 65 a margin of one)."""
    q0 = [64, 65, 66, 66, 66, 64, 65, 64.5]
    q1 = [0, 0, 66, 65.5, 65, 0, 0, 0]
    labels = [0, 0, 0, 0, 0, 1, 1, 0]
    X = np.zeros((N, FEATURES), dtype=np.float32)
    X[:, 0], X[:, 1] = np.asarray(q0) / 128, np.asarray(q1) / 128
    return X, np.asarray(labels)


@pytest.fixture(scope="module")
def degenerate_proofs(circuit, test_set):
    X, y = test_set
    return {name: zk.prove_accuracy(circuit, state, X[:N], y[:N]) for name, state in DEGENERATE.items()}


@pytest.mark.parametrize("name", list(DEGENERATE))
def test_degenerate_models_prove_what_the_reference_counts(circuit, test_set, degenerate_proofs, name):
    X, y = test_set
    proof = degenerate_proofs[name]
    assert proof.correct == zk.reference_count(circuit, DEGENERATE[name], X[:N], y[:N]) == 0
    assert zk.verify(circuit, proof, model_commitment=zk.weights_commitment(circuit, DEGENERATE[name]),
                     test_set_commitment=zk.test_set_commitment(circuit, X[:N], y[:N]))


def test_tiny_last_layer_counts_for_the_float_model_not_the_certified_one(circuit, test_set):
    X, y = test_set
    state = DEGENERATE["tiny last layer"]
    assert zk.count_float(tiny_model(0), X[:N], y[:N], state) > 0
    assert zk.reference_count(circuit, state, X[:N], y[:N]) == 0


def test_boundary_samples_prove_exactly_the_reference_count(circuit):
    X, y = boundary_set()
    model = boundary_model()
    z = circuit.certify(model).logits(X)
    assert z[:, :3].tolist() == [[128, 129, 0], [130, 129, 0], [132, 129, 132], [132, 129, 132],
                                 [132, 129, 130], [128, 129, 0], [130, 129, 0], [130, 129, 0]]
    assert cm.correct_samples(circuit.certify(model), X, y).tolist() == \
        [False, True, False, False, True, True, False, True]
    proof = zk.prove_accuracy(circuit, model, X, y)
    assert proof.correct == zk.reference_count(circuit, model, X, y) == 4


def test_label_rows_that_are_not_one_hot_count_zero(circuit):
    X, y = boundary_set()
    model = boundary_model()
    rows = cm.labels_onehot(y, CLASSES)
    # samples 1, 4 and 7 count with their one-hot rows: not with two ones, a 2, or no label
    rows[1] = [1, 1, 0, 0]
    rows[4] = [2, 0, 0, 0]
    rows[7] = [0, 0, 0, 0]
    rows[6] = [-1, 1, 1, 0]
    proof = prove_rows(circuit, model, X, rows)
    assert proof.correct == cm.reference_count(circuit.certify(model), X, rows) == 1


def test_zk_functions_refuse_labels_that_are_not_one_hot(circuit):
    X, y = boundary_set()
    rows = cm.labels_onehot(y, CLASSES)
    rows[0] = [1, 1, 0, 0]
    with pytest.raises(cm.CertificationError):
        zk.prove_accuracy(circuit, boundary_model(), X, rows)
    with pytest.raises(cm.CertificationError):
        zk.test_set_commitment(circuit, X, rows)
    with pytest.raises(cm.CertificationError):
        zk.test_set_commitment(circuit, X, np.full(N, CLASSES))


def test_margin_is_part_of_the_circuit_and_its_count(zk_settings, circuit):
    wide = zk.ensure_circuit(tiny_model(0), (FEATURES,), CLASSES, N, zk_settings,
                             params=dataclasses.replace(SMALL, margin_steps=2))
    assert wide.key != circuit.key and wide.statement_hash != circuit.statement_hash
    assert wide.statement["margin_steps"] == 2
    X, y = boundary_set()
    # margins of one step no longer count; the margin of 2 (sample 4) does
    assert zk.prove_accuracy(wide, boundary_model(), X, y).correct == \
        zk.reference_count(wide, boundary_model(), X, y) == 1
    X[0, 0] = 66 / 128               # z_0 = 132 against 129: a margin of 3
    assert zk.prove_accuracy(wide, boundary_model(), X, y).correct == 2


def test_a_pot_state_is_certified_exactly_from_its_integers(circuit, model, test_set):
    X, y = test_set
    state = TrainingState({k: np.rint(v.numpy().astype(np.float64) * 2 ** 20).astype(np.int64)
                           for k, v in model.state_dict().items()})
    h_w = zk.weights_commitment(circuit, state)
    assert h_w == zk.weights_commitment(circuit, state.to_bytes()) \
        == zk.weights_commitment(circuit, weights_to_float_state_dict(state))
    proof = zk.prove_accuracy(circuit, state, X[:N], y[:N])
    assert proof.model_commitment == h_w
    assert proof.correct == zk.reference_count(circuit, state, X[:N], y[:N])
