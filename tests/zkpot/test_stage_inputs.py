"""What the stage function refuses, with its reason: chunks that break the batch rule or the
fixed-point range, states with values outside their bounds, bad indices and devices. And what it
must accept: the most extreme spec that validates trains, and its states stay within bounds."""

import re

import numpy as np
import pytest
import torch

from zkpot.datasets import demo_dataset
from zkpot.hashing import serialize_state
from zkpot.pot import fixedpoint as fp
from zkpot.pot.layout import FRAC_BITS
from zkpot.spec import ModelSpec, preset
from zkpot.stage import StageError, TrainingState, batches, initial_weights, train_stage

WINE = preset("wine-mlp")          # Adam
DIGITS = preset("digits-mlp")      # SGD with momentum


def wine(n=24, start=0):
    return demo_dataset("wine").subset(np.arange(start, start + n))


def test_a_one_sample_chunk_is_refused_and_two_samples_make_one_batch():
    with pytest.raises(StageError, match="at least 2 samples"):
        train_stage(WINE, initial_weights(WINE), wine(1), 1)
    assert len(train_stage(WINE, initial_weights(WINE), wine(2), 1).losses) == 2


def test_the_batch_rule():
    assert batches(2, 8) == [(0, 2)]
    assert batches(17, 8) == [(0, 8), (8, 17)]                    # the trailing single sample joins
    assert batches(18, 8) == [(0, 8), (8, 16), (16, 18)]
    assert all(e - s >= 2 for s, e in batches(1000, 3))
    with pytest.raises(StageError, match="at least 2 samples"):
        batches(1, 8)


@pytest.mark.parametrize("change,msg", [
    (lambda x, y: (np.where(np.arange(x.size).reshape(x.shape) == 5, np.nan, x), y), "finite numbers within"),
    (lambda x, y: (np.where(np.arange(x.size).reshape(x.shape) == 5, np.inf, x), y), "finite numbers within"),
    (lambda x, y: (x * 0 + 1024.5, y), "finite numbers within"),
    (lambda x, y: (x, y + 3), r"labels must lie in 0..2"),
    (lambda x, y: (x, y - 1), r"labels must lie in 0..2"),
    (lambda x, y: (x, y + 0.5), "labels must be integers"),
    (lambda x, y: (x[:, :12], y), "chunk does not fit the spec"),
    (lambda x, y: (x, y[:-1]), "do not pair up"),
    (lambda x, y: (x.astype(str), y), "finite numbers within"),
])
def test_chunks_outside_the_fixed_point_range_are_refused(change, msg):
    data = wine()
    with pytest.raises(StageError, match=msg):
        train_stage(WINE, initial_weights(WINE), change(data.features, data.labels), 1)


def test_features_at_the_bound_are_accepted():
    data = wine()
    x = np.sign(data.features) * 1024.0
    assert len(train_stage(WINE, initial_weights(WINE), (x, data.labels), 1).losses) == len(data)


def _state_with(spec, name, value, index=0):
    state = initial_weights(spec)
    target = state.params if name in state.params else state.buffers
    target[name].reshape(-1)[index] = value
    return state


@pytest.mark.parametrize("spec,name,value,msg", [
    (WINE, "0.weight", 2**40, r"0.weight: value 1099511627776 outside \[-16777216, 16777216\]"),
    (WINE, "2.bias", -(2**24) - 1, "2.bias: value -16777217 outside"),
    (DIGITS, "opt.0.weight.momentum", 2**62, "opt.0.weight.momentum: value 4611686018427387904 outside.*momentum"),
    (DIGITS, "opt.3.bias.momentum", -(2**38) - 1, "opt.3.bias.momentum"),
    (WINE, "opt.0.weight.m", 2**27 + 1, "Adam first moment"),
    (WINE, "opt.0.bias.v", -1, r"opt.0.bias.v: value -1 outside \[0, 274877906944\]"),
    (WINE, "opt.2.weight.v", 2**38 + 1, "Adam second moment"),
])
def test_state_values_out_of_range_are_refused_naming_the_tensor(spec, name, value, msg):
    state = _state_with(spec, name, value)
    for given in (state, state.to_bytes()):
        with pytest.raises(StageError, match=msg):
            train_stage(spec, given, wine() if spec is WINE else demo_dataset("digits").subset(np.arange(20)), 1)
    with pytest.raises(StageError, match=msg):
        TrainingState.from_bytes(state.to_bytes())


def test_state_values_at_their_bounds_are_accepted():
    state = _state_with(WINE, "0.weight", fp.W_MAX)
    state.buffers["opt.0.weight.m"][0, 0] = -fp.ADAM_M_MAX
    state.buffers["opt.0.weight.v"][0, 0] = fp.ADAM_V_MAX
    result = train_stage(WINE, state, wine(), 1)
    assert result.state.step == state.step + 3


@pytest.mark.parametrize("step,msg", [(-1, "step count -1"), (2**40 + 1, "step count"), (True, "step count True"),
                                      (1.5, "step count 1.5")])
def test_the_step_count_is_checked(step, msg):
    state = initial_weights(WINE)
    state.step = step
    with pytest.raises(StageError, match=msg):
        train_stage(WINE, state, wine(), 1)
    meta = {"format": "zkpot-fixed-1", "step": step, "frac_bits": FRAC_BITS}
    with pytest.raises(StageError, match="step count"):
        train_stage(WINE, serialize_state({**state.params, **state.buffers}, meta), wine(), 1)


def test_a_state_that_would_pass_the_step_bound_is_refused():
    state = initial_weights(WINE)
    state.step = 2**40 - 1
    with pytest.raises(StageError, match="would pass 2\\^40"):
        train_stage(WINE, state, wine(), 1)


def test_state_tensors_must_be_the_specs():
    state = initial_weights(WINE)
    del state.buffers["opt.2.bias.v"]
    with pytest.raises(StageError, match="missing opt.2.bias.v"):
        train_stage(WINE, state, wine(), 1)
    state = initial_weights(WINE)
    state.buffers["opt.9.weight.m"] = np.zeros(3, dtype=np.int64)
    with pytest.raises(StageError, match="unexpected opt.9.weight.m"):
        train_stage(WINE, state, wine(), 1)
    state = initial_weights(WINE)
    state.params["0.bias"] = state.params["0.bias"][:-1]
    with pytest.raises(StageError, match=r"0.bias has shape \(15,\), the spec needs \(16,\)"):
        train_stage(WINE, state, wine(), 1)
    state = initial_weights(WINE)
    state.params["0.bias"] = state.params["0.bias"].astype(np.float64)
    with pytest.raises(StageError, match="integers only"):
        train_stage(WINE, state, wine(), 1)


@pytest.mark.parametrize("mangle,msg", [
    (lambda d: b"XX" + d, "magic"),
    (lambda d: d[:-8], "truncated"),
    (lambda d: d + b"\0", "trailing bytes"),
    (lambda d: d.replace(b"zkpot-fixed-1", b"zkpot-fixed-9"), "format 'zkpot-fixed-9'"),
    (lambda d: d.replace(b'"tensors":[', b'"tensors":7,"x":['), "unreadable state header"),
    # one state, one byte string (found by an attack: a tensor named twice trained on its last copy)
    (lambda d: re.sub(rb'("tensors":\[)(\["[^"]+",\[[0-9,]*\]\],)', rb"\1\2\2", d, count=1), "names a tensor twice"),
    (lambda d: re.sub(rb'"frac_bits":\{[^}]*\}', b'"frac_bits":7', d), "not canonical"),
    (lambda d: d.replace(b'"meta":', b'"meta": '), "not canonical"),
    (lambda d: re.sub(rb'\[16\]', b"[16.9]", d, count=1), "unreadable state header"),
    (lambda d: re.sub(rb'"meta":\{"format":"[^"]*","frac_bits":\{[^}]*\},"step":[0-9]+\}', b'"meta":5', d),
     "unreadable state header"),
    (lambda d: d[:8] + b"[" * 20_000 + b"\n", "unreadable state header"),
])
def test_malformed_state_bytes_are_refused(mangle, msg):
    with pytest.raises(StageError, match=msg):
        train_stage(WINE, mangle(initial_weights(WINE).to_bytes()), wine(), 1)


@pytest.mark.parametrize("kwargs,msg", [
    ({"stage_index": -1}, "stage index"), ({"stage_index": 2**64}, "stage index"), ({"seed": -5}, "seed"),
    ({"stage_index": 1.5}, "stage index"), ({"stage_index": True}, "stage index"),
    ({"device": "tpu"}, "device 'tpu'"), ({"device": "nonsense"}, "device"),
])
def test_indices_and_devices_are_checked(kwargs, msg):
    args = {"stage_index": 1, **kwargs}
    with pytest.raises(StageError, match=msg):
        train_stage(WINE, initial_weights(WINE), wine(), args.pop("stage_index"), **args)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_asking_for_cuda_without_a_gpu_is_a_stage_error():
    with pytest.raises(StageError, match="no CUDA device"):
        train_stage(WINE, initial_weights(WINE), wine(), 1, device="cuda")


EXTREME = [
    {"type": "adam", "lr": 1.0, "betas": [0.999, 0.99999], "eps": 2.0**-30},
    {"type": "adam", "lr": 1.0, "betas": [0.0, 0.0], "eps": 1.0},
    {"type": "sgd", "lr": 1.0, "momentum": 0.999},
]


@pytest.mark.parametrize("optimizer", EXTREME)
def test_the_most_extreme_valid_specs_train_and_stay_in_range(optimizer):
    # the largest steps, momenta and inputs a spec and a chunk may have: nothing overflows, every
    # state loads back (its values within their bounds), and the device path gives the same bits
    spec = ModelSpec.from_json({
        "layers": [{"type": "Linear", "in_features": 13, "out_features": 32}, {"type": "ReLU"},
                   {"type": "Dropout", "p": 0.9}, {"type": "Linear", "in_features": 32, "out_features": 3}],
        "optimizer": optimizer, "batch_size": 2})
    ds = demo_dataset("wine")
    x = np.clip(ds.features * 1024, -1024, 1024)
    state = initial_weights(spec).to_bytes()
    for stage in range(1, 4):
        part = (x[:60], ds.labels[:60])
        result = train_stage(spec, state, part, stage)
        assert result.state.step == 30 * stage
        again = train_stage(spec, state, part, stage, device="cpu-torch")
        assert again.state_bytes == result.state_bytes and again.rho == result.rho
        state = result.state_bytes


def test_a_failure_inside_a_stage_is_a_stage_error(monkeypatch):
    from zkpot.pot import trainer

    def boom(self, *args):
        raise MemoryError("no room for the activations")

    monkeypatch.setattr(trainer.Trainer, "run_batch", boom)
    with pytest.raises(StageError, match="stage 1 failed: MemoryError: no room"):
        train_stage(WINE, initial_weights(WINE), wine(), 1)
