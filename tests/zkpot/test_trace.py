"""The stage's trace on demand: the same computation as train_stage, committed by Merkle roots."""

import numpy as np
import pytest

from tests.zkpot.stage_golden import EXTRA_CASES
from zkpot.datasets import demo_dataset, validate
from zkpot.pot import fixedpoint as fp
from zkpot.pot import merkle
from zkpot.pot.layout import flatten_state, layout_for
from zkpot.pot.trace import partial_sums, state_vector, trace_stage
from zkpot.spec import PRESET_DATASETS, ModelSpec, preset
from zkpot.stage import StageError, initial_weights, train_stage

CASES = ["digits-mlp", "digits-cnn", "cover-mlp-adam-betas", "cover-conv-stride-sgd", "cover-saturating-sgd"]


def case(name: str):
    if name in EXTRA_CASES:
        spec_json, dataset, samples, scale = EXTRA_CASES[name]
        spec = ModelSpec.from_json(spec_json)
    else:
        spec, dataset, samples, scale = preset(name), PRESET_DATASETS[name], 40, 1.0
    ds = demo_dataset(dataset)
    if scale != 1.0:
        ds = validate(ds.features * np.float32(scale), ds.labels, ds.num_classes)
    return spec, ds.subset(np.arange(samples))


def vector_of(spec, state) -> np.ndarray:
    layout = layout_for(spec)
    params, buffers = flatten_state(layout, {**state.params, **state.buffers}, state.step)
    return state_vector(layout, params, buffers, state.step)


@pytest.mark.parametrize("name", CASES)
def test_trace_is_the_stage_computation(name):
    spec, chunk = case(name)
    s0 = initial_weights(spec)
    result = train_stage(spec, s0, chunk, 1)
    trace = trace_stage(spec, s0, chunk, 1, detail=1)
    # H(S) is hashed when asked for: after another stage has reused (and overwritten) the arrays
    train_stage(spec, result.state, chunk, 2)
    assert trace.weights_hash == result.weights_hash
    assert set(trace.state_roots) == set(range(trace.batches + 1))
    assert trace.state_roots[0] == merkle.root(vector_of(spec, s0))
    assert trace.state_roots[trace.batches] == merkle.root(vector_of(spec, result.state))
    b = spec.batch_size
    # the traced batch's losses are the stage's losses of that batch, and its logits the last layer's output
    np.testing.assert_array_equal(trace.op("loss.value").values, result.losses[b:2 * b])
    last = len(spec.layers) - 1
    assert trace.op(f"fwd.{last}").values.shape == trace.op("loss.exp").values.shape
    # the updated parameters and buffers, layer by layer, are the state after the batch
    one = trace_stage(spec, s0, chunk, 1, roots_at=[2])
    layout = layout_for(spec)
    params = np.concatenate([trace.op(f"step.{s.layer}.param").values for s in layout.slots
                             if s.name.endswith(".bias")])
    buffers = {name: np.concatenate([trace.op(f"step.{s.layer}.{name}").values for s in layout.slots
                                     if s.name.endswith(".bias")]) for name in layout.buffers}
    step = s0.step + 2
    assert merkle.root(state_vector(layout, params, buffers, step)) == one.state_roots[2] == trace.state_roots[2]


def test_trace_asks_only_for_what_it_needs():
    spec, chunk = case("digits-mlp")
    s0 = initial_weights(spec)
    trace = trace_stage(spec, s0, chunk, 1, roots_at=[0, 3])
    assert set(trace.state_roots) == {0, 3} and trace.ops == []
    with pytest.raises(StageError):
        trace_stage(spec, s0, chunk, 1, roots_at=[trace.batches + 1])
    with pytest.raises(StageError):
        trace_stage(spec, s0, chunk, 1, detail=trace.batches)


def test_kept_states_are_rooted_on_demand_as_up_front():
    spec, chunk = case("digits-cnn")
    s0 = initial_weights(spec)
    full = trace_stage(spec, s0, chunk, 1)
    lazy = trace_stage(spec, s0, chunk, 1, roots_at=[], keep_states=True)
    assert lazy.state_roots == {} and len(lazy.states) == full.batches + 1
    assert [lazy.state_root(k) for k in (full.batches, 0, 2)] == [full.state_roots[k] for k in (full.batches, 0, 2)]
    assert set(lazy.state_roots) == {0, 2, full.batches}


def test_different_start_states_give_different_roots_from_the_first_batch():
    spec, chunk = case("digits-mlp")
    s0 = initial_weights(spec)
    other = initial_weights(spec, seed=spec.seed + 1)
    a, b = trace_stage(spec, s0, chunk, 1), trace_stage(spec, other, chunk, 1)
    assert all(a.state_roots[k] != b.state_roots[k] for k in a.state_roots)


def test_a_traced_linear_output_element_is_its_partial_sums_rescaled():
    """Element (r, c) of the first Linear layer from the traced input and weights: the formula
    docs/pot.md states, through the partial sums a dispute bisects."""
    spec, chunk = case("digits-mlp")
    s0 = initial_weights(spec)
    trace = trace_stage(spec, s0, chunk, 1, detail=0)
    x = trace.op("input").values.reshape(spec.batch_size, -1)
    first = next(i for i, l in enumerate(spec.layers) if type(l).__name__ == "Linear")
    w, bias = s0.params[f"{first}.weight"], s0.params[f"{first}.bias"]
    out = trace.op(f"fwd.{first}").values
    relu = type(spec.layers[first + 1]).__name__ == "ReLU"
    for r, c in [(0, 0), (3, 7), (spec.batch_size - 1, w.shape[0] - 1)]:
        acc = partial_sums(x[r], w[c])
        assert len(acc) == x.shape[1] + 1 and acc[0] == 0
        value = min(max(int(fp.rshift(np.int64(acc[-1] + (int(bias[c]) << 16)), 20)), 0 if relu else -fp.ACT_MAX),
                    fp.ACT_MAX)
        assert value == out[r, c]
