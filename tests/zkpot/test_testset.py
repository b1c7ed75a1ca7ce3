"""The test shard's grid: one rounding rule (half away from zero, as the circuit rounds)."""

from __future__ import annotations

import numpy as np

from zkpot.certified import quantise_inputs
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
