"""The certified model (zkpot.certified): exact mappings to it and its reference count, no ezkl."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from zkpot import certified as cm
from zkpot.spec import build_model, preset
from zkpot.stage import TrainingState, initial_weights, weights_to_float_state_dict


def mlp(seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3))


def test_scales_grow_by_the_param_scale_per_weight_layer():
    scales, logit = cm.param_scales(cm.layer_plan(mlp()), 7, 7)
    # the ReLU, computed as x + |x|, adds a bit of scale
    assert scales == {"0.weight": 7, "0.bias": 14, "2.weight": 7, "2.bias": 22} and logit == 22


def test_float_weights_are_rounded_half_away_from_zero_to_their_grids():
    model = mlp()
    state = {k: torch.zeros_like(v) for k, v in model.state_dict().items()}
    state["0.weight"][0, :4] = torch.tensor([1.5, -1.5, 2.5, 0.3]) / 128
    certified = cm.certify_state_dict(model, state)
    assert certified.weights["0.weight"][0, :4].tolist() == [2, -2, 3, 0]
    # the float state dict of the certified model is exactly on the grid: certifying it again
    # changes nothing
    again = cm.certify_state_dict(model, certified.state_dict())
    assert all(np.array_equal(again.weights[k], certified.weights[k]) for k in certified.weights)


def test_weights_within_a_rounding_share_one_certified_model():
    model = mlp()
    base = cm.certify_state_dict(model, model.state_dict())
    nudged = {k: v + 0.3 / 2 ** base.scales[k] for k, v in base.state_dict().items()}
    other = {k: v + 0.6 / 2 ** base.scales[k] for k, v in base.state_dict().items()}
    assert all(np.array_equal(cm.certify_state_dict(model, nudged).weights[k], base.weights[k])
               for k in base.weights)
    assert not np.array_equal(cm.certify_state_dict(model, other).weights["0.weight"],
                              base.weights["0.weight"])


@pytest.mark.parametrize("name", ["digits-mlp", "digits-cnn", "wine-mlp"])
def test_fixed_point_and_float_mappings_agree(name):
    spec = preset(name)
    state = initial_weights(spec)
    rng = np.random.default_rng(0)
    # include exact halves of a step and values near the Q20 limits
    state.params = {k: np.clip(v + rng.integers(-3, 4, v.shape) * (1 << 12), -(1 << 24), 1 << 24)
                    for k, v in state.params.items()}
    model = build_model(spec)
    exact = cm.certify_fixed_point(model, state)
    via_float = cm.certify_state_dict(model, weights_to_float_state_dict(state))
    assert all(np.array_equal(exact.weights[k], via_float.weights[k]) for k in exact.weights)
    assert cm.certify_fixed_point(model, state.to_bytes()).weights.keys() == exact.weights.keys()


def test_fixed_point_mapping_rounds_halves_away_from_zero():
    model = nn.Sequential(nn.Linear(2, 2))
    half = 1 << 12                      # half a step of 2^-7 in Q20
    state = TrainingState({"0.weight": np.array([[half, -half], [3 * half, 1]]),
                           "0.bias": np.array([1, -1])})
    certified = cm.certify_fixed_point(model, state)
    assert certified.weights["0.weight"].tolist() == [[1, -1], [2, 0]]
    assert certified.weights["0.bias"].tolist() == [0, 0]      # 2^-20 at scale 14 rounds to 0


def logits_model(logits: np.ndarray) -> tuple[cm.CertifiedModel, np.ndarray]:
    """A one-layer certified model whose integer logits on one-hot inputs are ``logits``."""
    n, c = logits.shape
    model = nn.Sequential(nn.Linear(n, c))
    weights = {"0.weight": np.ascontiguousarray(logits.T.astype(np.int64)),
               "0.bias": np.zeros(c, dtype=np.int64)}
    certified = cm.CertifiedModel(cm.layer_plan(model), weights, {"0.weight": 7, "0.bias": 14})
    X = np.eye(n, dtype=np.float32) / 128          # sample i selects column i: z_i = logits[i]
    return certified, X


def test_count_needs_the_margin_and_refuses_ties():
    z = np.array([[5, 5, 0],     # tie: 0
                  [6, 5, 0],     # margin 1: counts at δ=1 only
                  [7, 5, 0],     # margin 2
                  [0, 0, 0],     # constant: 0
                  [-1, -3, -2]])  # negative logits, margin 1
    certified, X = logits_model(z)
    y = np.zeros(5, dtype=int)
    assert certified.logits(X).tolist() == z.tolist()
    assert cm.correct_samples(certified, X, y, 1).tolist() == [False, True, True, False, True]
    assert cm.reference_count(certified, X, y, 2) == 1
    assert cm.reference_count(certified, X, np.ones(5, dtype=int), 1) == 0


def test_rows_that_are_not_one_hot_count_zero():
    certified, X = logits_model(np.array([[9, 0, 0]] * 5))
    rows = np.array([[1, 0, 0], [1, 1, 0], [0, 0, 0], [2, 0, 0], [-1, 1, 1]])
    assert cm.correct_samples(certified, X, rows).tolist() == [True, False, False, False, False]
    with pytest.raises(cm.CertificationError):
        cm.labels_onehot(rows, 3)
    with pytest.raises(cm.CertificationError):
        cm.labels_onehot(np.array([0, 3]), 3)


def test_conv_and_pooling_match_torch_on_grid_weights():
    torch.manual_seed(1)
    model = build_model(preset("digits-cnn")).eval()
    certified = cm.certify_state_dict(model, model.state_dict())
    X = np.random.default_rng(2).integers(0, 17, (5, 1, 8, 8)).astype(np.float32) / 16
    exact = certified.logits(X).astype(np.float64) / 2.0 ** certified.logit_scale
    net = build_model(preset("digits-cnn")).eval()
    net.load_state_dict({k: v.double() for k, v in certified.state_dict().items()})
    with torch.no_grad():
        expected = net.double()(torch.as_tensor(X, dtype=torch.float64)).numpy()
    assert np.allclose(exact, expected, atol=1e-9)


def test_values_outside_the_circuits_range_are_refused():
    model = mlp()
    certified = cm.certify_state_dict(model, model.state_dict(), range_limit=10**8)
    with pytest.raises(cm.CertificationError, match="range"):
        cm.reference_count(certified, np.ones((2, 6), dtype=np.float32) * 1000, [0, 1])


@pytest.mark.parametrize("feature", [np.nan, np.inf, -np.inf, 1e30, -2.0**56])
def test_features_no_grid_holds_are_refused_not_collapsed(feature):
    # found by an attack: each of these quantised to -2^63, so different shards shared one c_T
    X = np.full((2, 6), 0.5, dtype=np.float32)
    X[1, 3] = feature
    with pytest.raises(cm.CertificationError, match="NaN or infinite|beyond 2\\^62"):
        cm.quantise_inputs(X, 7)
    certified = cm.certify_state_dict(mlp(), mlp().state_dict())
    with pytest.raises(cm.CertificationError):
        cm.reference_count(certified, X, [0, 1])


def test_a_layer_whose_int64_products_could_wrap_is_refused():
    # found by an attack: eight products of 2^61 summed to exactly 2^64, read as 0 in int64
    n, c = 8, 3
    weights = {"0.weight": np.full((c, n), 2**31, dtype=np.int64), "0.bias": np.zeros(c, dtype=np.int64)}
    certified = cm.CertifiedModel(cm.layer_plan(nn.Sequential(nn.Linear(n, c))), weights,
                                  {"0.weight": 7, "0.bias": 14}, range_limit=2**70)
    X = np.full((1, n), 2.0**23, dtype=np.float32)           # 2^30 on the grid of 2^-7
    with pytest.raises(cm.CertificationError, match="overflow"):
        certified.logits(X)
    assert certified.logits(X / 2**20).tolist() == [[8 * 2**31 * 2**10] * c]     # far from it: exact


@pytest.mark.parametrize("weight", [3e38, -3e38, 1e20, float("inf"), float("nan")])
def test_a_weight_no_grid_holds_is_out_of_range_not_wrapped(weight):
    # found by an attack: these rounded to -2^63, whose absolute value is negative in int64,
    # so the range check passed and different weights shared one commitment
    model = mlp()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    state["0.weight"][0, 0] = weight
    with pytest.raises(cm.OutOfRange):
        cm.certify_state_dict(model, state)

