"""tau and Delta."""

import numpy as np
import pytest

from zkpot.spec import ModelSpec, preset
from zkpot.staging import StagingError, adjust_target, epoch_order, plan_stages, training_flops


def test_dense_tau_is_six_times_weights_times_samples():
    spec = preset("digits-mlp")
    weights = 64 * 16 + 16 * 10
    assert training_flops(spec, 100, (64,), 10) == 6 * weights * 100


def test_conv_tau_counts_every_output_position():
    spec = preset("digits-cnn")
    conv = 2 * 1 * 9 * 8 * 8 * 8      # C_in k k C_out H_out W_out
    dense = 2 * 128 * 10
    assert training_flops(spec, 1, (1, 8, 8), 10) == 3 * (conv + dense)


def test_plan_covers_every_epoch_in_seeded_order():
    spec = preset("digits-mlp")          # 4 epochs, batch 16
    per_sample = training_flops(spec, 1, (64,), 10)
    chunks = plan_stages(spec, 100, per_sample * 40, (64,), 10)
    assert all(len(c) % 16 == 0 for c in chunks[:-1]) and len(chunks[0]) == 32
    flat = np.concatenate(chunks)
    assert len(flat) == 400
    for e in range(4):
        assert sorted(flat[e * 100:(e + 1) * 100].tolist()) == list(range(100))
        assert np.array_equal(flat[e * 100:(e + 1) * 100], epoch_order(100, spec.seed, e))
    assert not np.array_equal(epoch_order(100, spec.seed, 0), epoch_order(100, spec.seed, 1))
    assert all(np.array_equal(a, b) for a, b in zip(chunks, plan_stages(spec, 100, per_sample * 40, (64,), 10)))


def test_plan_merges_a_remainder_smaller_than_a_batch():
    spec = ModelSpec.from_json({**preset("wine-mlp").to_dict(), "epochs": 1})   # batch 8
    per_sample = training_flops(spec, 1, (13,), 3)
    chunks = plan_stages(spec, 21, per_sample * 8, (13,), 3)
    assert [len(c) for c in chunks] == [8, 13]


def test_plan_errors():
    spec = preset("digits-mlp")
    with pytest.raises(StagingError, match="fewer than one batch"):
        plan_stages(spec, 10, 10**9, (64,), 10)
    with pytest.raises(StagingError, match="positive"):
        plan_stages(spec, 100, 0, (64,), 10)


def test_adjust_target_moves_towards_desired_time_within_bounds():
    assert adjust_target(1000, [20.0, 20.0], 10.0) == 500
    assert adjust_target(1000, [5.0], 10.0) == 2000
    assert adjust_target(1000, [1000.0], 10.0) == 250
    assert adjust_target(1000, [0.001], 10.0) == 4000
    assert adjust_target(1000, [], 10.0) == 1000
