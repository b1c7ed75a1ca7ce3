"""The test shard's grid: one rounding rule (half away from zero, as the circuit rounds)."""

from __future__ import annotations

import numpy as np
import pytest

from zkpot.certified import quantise_inputs
from zkpot import testset
from zkpot.testset import decode_shard, encode_shard, quantise


def test_half_steps_round_away_from_zero_as_the_circuit_does():
    # 0.5, 1.5, 2.5 steps and their negatives: half to even would give 0, 2, 2
    x = np.array([[0.5, 1.5, 2.5, -0.5, -1.5, -2.5]], dtype=np.float32) / 128
    assert quantise(x, 7).tolist() == [[1, 2, 3, -1, -2, -3]]
    assert np.array_equal(quantise(x, 7), quantise_inputs(x, 7))


def test_a_shard_keeps_the_certified_models_integers():
    rng = np.random.default_rng(3)
    x = (rng.integers(-600, 600, (16, 8)) + 0.5).astype(np.float32) / 128
    shard = decode_shard(encode_shard(x, rng.integers(0, 3, 16), 3, 7))
    assert np.array_equal(shard.features, quantise_inputs(x, 7))
    # the grid's floats quantise back to the same integers
    assert np.array_equal(quantise_inputs(shard.x, 7), shard.features)


@pytest.mark.parametrize("feature, label, msg", [
    (np.nan, 1, "NaN or infinite"), (np.inf, 1, "NaN or infinite"), (-np.inf, 1, "NaN or infinite"),
    (1e30, 1, "beyond 32-bit"), (2.0**24, 1, "beyond 32-bit"), (0.5, 2.7, "integers"), (0.5, np.nan, "integers"),
])
def test_a_feature_or_label_a_shard_cannot_hold_is_refused_not_zeroed(feature, label, msg):
    # found by an attack: NaN, infinities and 1e30 were encoded as 0 and 2.7 as label 2
    x = np.full((4, 3), 0.25, dtype=np.float32)
    x[1, 2] = feature
    y = np.array([0, 1, 2, 1], dtype=np.float64)
    y[3] = label
    with pytest.raises(testset.TestShardError, match=msg):
        encode_shard(x, y, 3, 7)

