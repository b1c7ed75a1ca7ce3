"""The one-step check on a real stage's trace: operands opened against the roots trace_stage
committed give, on-chain, the elements the stage computed."""

import numpy as np
import pytest

from tests.dispute.conftest import reverts
from tests.dispute.ops import b32, opening
from zkpot.datasets import demo_dataset
from zkpot.pot import merkle
from zkpot.pot.layout import flatten_state, layout_for
from zkpot.pot.trace import partial_sums, state_vector, trace_stage
from zkpot.spec import PRESET_DATASETS, preset
from zkpot.stage import initial_weights

ROUND_LR, ROUND_MU = round(0.1 * 2**24), round(0.9 * 2**24)



@pytest.fixture(scope="module")
def traced():
    spec = preset("digits-mlp")                      # Linear 64-16, ReLU, Dropout, Linear 16-10; SGD momentum
    s0 = initial_weights(spec)
    chunk = demo_dataset(PRESET_DATASETS["digits-mlp"]).subset(np.arange(40))
    trace = trace_stage(spec, s0, chunk, 1, roots_at=[0, 1], detail=0)
    layout = layout_for(spec)
    params, buffers = flatten_state(layout, {**s0.params, **s0.buffers}, s0.step)
    state = merkle.tree(state_vector(layout, params, buffers, s0.step))
    assert state.root == trace.state_roots[0]
    return spec, layout, trace, state


def operand(t: merkle.TensorTree, i: int) -> tuple:
    return ((b32(t.root), t.n), opening(t, i))


def test_a_linear_output_of_the_trace_is_recomputed_on_chain(prover, traced):
    spec, layout, trace, state = traced
    w_slot, b_slot = layout.slots[0], layout.slots[1]          # 0.weight (16 x 64), 0.bias
    x = trace.op("input").tree
    k_in = w_slot.shape[1]
    out = trace.op("fwd.0")
    for r, c in [(0, 0), (5, 11), (15, 15)]:
        xs = [x.values[r * k_in + k] for k in range(k_in)]
        ws = [state.values[w_slot.start + c * k_in + k] for k in range(k_in)]
        acc = merkle.tree(np.array(partial_sums(xs, ws), dtype=object))
        k = (r * 7 + c) % k_in
        got = prover.productStep(operand(acc, k), operand(x, r * k_in + k), operand(state, w_slot.start + c * k_in + k))
        assert got == int(acc.values[k + 1])
        value = prover.productOutput(operand(acc, k_in), operand(state, b_slot.start + c), True)
        assert value == int(out.values[r, c])
        # a fabricated output element is caught: the recomputed one differs from it
        assert value != int(out.values[r, c]) + 1


def test_an_sgd_element_of_the_trace_is_recomputed_on_chain(prover, traced):
    spec, layout, trace, state = traced
    last = max(s.layer for s in layout.slots)
    start = next(s.start for s in layout.slots if s.name == f"{last}.weight")
    grad, param, buf = trace.op(f"grad.{last}").tree, trace.op(f"step.{last}.param"), trace.op(f"step.{last}.momentum")
    momentum_at = layout.size                                   # the buffer follows the parameters
    for local in (0, 37, grad.n - 1):
        w2, b2 = prover.sgd(operand(state, start + local), operand(grad, local),
                            operand(state, momentum_at + start + local), ROUND_LR, ROUND_MU, True)
        assert (w2, b2) == (int(param.values[local]), int(buf.values[local]))


def test_an_operand_from_another_tensor_is_refused(prover, traced):
    spec, layout, trace, state = traced
    x = trace.op("input").tree
    fake = merkle.tree(np.zeros(x.n, dtype=np.int64))
    acc = merkle.tree(np.array([0, 1]))
    with reverts("OpeningInvalid"):                             # the fake tensor's leaf under the real root
        prover.productStep(operand(acc, 0), ((b32(x.root), x.n), opening(fake, 0)), operand(state, 0))
