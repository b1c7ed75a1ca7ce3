"""OneStepProver: each on-chain operation equals zkpot/pot's fixed-point code bit for bit over
random inputs within the documented ranges, and refuses inputs outside them or unopened."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.dispute.conftest import reverts
from tests.dispute.ops import (adam, b32, input_gradient, linear_output, loss_row, operands, pool, sgd,
                                         table_opening, table_tree, weight_gradient)
from zkpot.pot import fixedpoint as fp
from zkpot.pot import merkle
from zkpot.pot.trace import partial_sums

ACT, W, G = fp.ACT_MAX, fp.W_MAX, fp.G_MAX



def test_table_root_is_the_tables_of_fixedpoint(prover):
    assert prover.tableRoot() == b32(table_tree().root)


def vec(lo, hi, n_min=1, n_max=6):
    return st.lists(st.integers(lo, hi), min_size=n_min, max_size=n_max)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=50)
@given(data=st.data(), relu=st.booleans(), big=st.booleans())
def test_linear_output_element_equals_affine(prover, data, relu, big):
    # big: inputs up to 2^30 (a Dropout's output before saturation reaches 10 x 2^26) so the
    # product leaves the float64 fast path and runs in mm_exact
    xs = data.draw(vec(-(2**30 - 1) if big else -ACT, 2**30 - 1 if big else ACT))
    ws = data.draw(vec(-W, W, len(xs), len(xs)))
    bias = data.draw(st.integers(-W, W))
    acc = partial_sums(xs, ws)
    k = data.draw(st.integers(0, len(xs) - 1))
    a, x, w = operands(acc[k])[0], *operands(xs[k], ws[k], pad=3)
    assert prover.productStep(a, x, w) == acc[k + 1]
    total, b = operands(acc[-1], bias)
    assert prover.productOutput(total, b, relu) == linear_output(xs, ws, bias, relu)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=40)
@given(data=st.data())
def test_gradient_elements_equal_the_backward_pass(prover, data):
    gs = data.draw(vec(-G, G))
    ws = data.draw(vec(-W, W, len(gs), len(gs)))
    xs = data.draw(vec(-ACT, ACT, len(gs), len(gs)))
    entry = prover.inputGradientEntry(operands(partial_sums(gs, ws)[-1])[0])
    assert prover.saturateGradient(operands(entry)[0]) == input_gradient(gs, ws)
    assert prover.weightGradient(operands(partial_sums(gs, xs)[-1])[0]) == weight_gradient(gs, xs)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=40)
@given(z=vec(-ACT, ACT, 2, 8), data=st.data(), batch=st.integers(2, 4096))
def test_loss_entry_equals_cross_entropy(prover, z, data, batch):
    label = data.draw(st.integers(0, len(z) - 1))
    j = data.draw(st.integers(0, len(z) - 1))
    loss, grad, m, e, s = loss_row(z, label, batch)
    running = [z[0]]
    for v in z[1:]:
        running.append(max(running[-1], v))
    if j:
        assert prover.maxStep(*operands(running[j - 1], z[j])) == running[j]
    mo, zo = operands(m, z[j])
    d = m - z[j]
    hi, lo = table_opening(min(d, 2**20 - 1) >> 10), table_opening(1024 + (min(d, 2**20 - 1) & 1023))
    assert prover.expEntry(mo, zo, hi, lo) == e[j]
    if j:
        assert prover.addStep(*operands(sum(e[:j]), e[j])) == sum(e[:j + 1])
    sf = s
    ex = sf.bit_length() - 31
    idx = ((sf >> ex) - 2**30) >> 20
    so, mo, zl = operands(s, m, z[label])
    assert prover.lossEntry(so, mo, zl, table_opening(2048 + idx), table_opening(2049 + idx)) == loss
    eo, so = operands(e[j], s)
    assert prover.softmaxGradient(eo, so, j == label, batch) == grad[j]


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=60)
@given(w=st.integers(-W, W), g=st.integers(-G, G), buf=st.integers(-2**38, 2**38),
       lr=st.integers(1, 2**24), mu=st.integers(0, 16760439), has=st.booleans())
def test_sgd_element_equals_sgd_step(prover, w, g, buf, lr, mu, has):
    wo, go, bo = operands(w, g, buf if has else 0)
    want = sgd(w, g, buf if has else None, lr, mu if has else 0)
    assert tuple(prover.sgd(wo, go, bo, lr, mu if has else 0, has)) == want


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=60)
@given(w=st.integers(-W, W), g=st.integers(-G, G), m=st.integers(-G, G), v=st.integers(0, 2**38),
       b1=st.integers(0, 16760439), b2=st.integers(0, 16777048), alpha=st.integers(0, 2**34),
       eps=st.integers(1, 2**24))
def test_adam_element_equals_adam_step(prover, w, g, m, v, b1, b2, alpha, eps):
    scalars = (b1, b2, alpha, eps)
    assert tuple(prover.adam(*operands(w, g, m, v), scalars)) == adam(w, g, m, v, scalars)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=40)
@given(k=st.integers(1, 4), data=st.data())
def test_pool_choice_equals_maxpool(prover, k, data):
    # few distinct values, so ties are frequent: the first maximum in row-major order wins
    values = data.draw(st.lists(st.sampled_from([-ACT, -3, 0, 5, ACT]), min_size=k * k, max_size=k * k))
    assert tuple(prover.poolChoice(operands(*values))) == pool(values, k)


def test_pool_choice_at_the_largest_window(prover):
    values = [3] * 121
    values[60] = values[100] = 9
    assert tuple(prover.poolChoice(operands(*values))) == pool(values, 11) == (60, 9)


def test_sgd_from_the_int64_path_and_a_saturating_weight(prover):
    # buffer and lr large: float64 is not exact, the int64 formula runs; the weight saturates
    args = (W, -G, 2**38, 2**24, 16760439)
    assert tuple(prover.sgd(*operands(*args[:3]), *args[3:], True)) == sgd(*args)
    assert sgd(*args)[0] == -W


# ---- refusals ----

@pytest.mark.parametrize("call, position, bad", [
    ("productStep", 1, 2**30), ("productStep", 2, -2**30),
    ("maxStep", 1, ACT + 1), ("productOutput", 1, W + 1), ("reluGradient", 1, -1),
])
def test_operands_outside_the_ranges_revert(prover, call, position, bad):
    n = {"productStep": 3, "maxStep": 2, "productOutput": 2, "reluGradient": 2}[call]
    values = [1] * n
    values[position] = bad
    extra = {"productOutput": [False]}.get(call, [])
    with reverts("OperandOutOfRange"):
        getattr(prover, call)(*operands(*values), *extra)


def test_optimiser_scalars_outside_the_spec_revert(prover):
    with reverts("OperandOutOfRange"):
        prover.sgd(*operands(0, 0, 0), 2**24 + 1, 0, False)         # lr > 1
    with reverts("OperandOutOfRange"):
        prover.sgd(*operands(0, 0, 0), 1, 16760440, True)           # momentum > 0.999
    with reverts("OperandOutOfRange"):
        prover.adam(*operands(0, 0, 0, -1), (0, 0, 0, 1))           # v < 0
    with reverts("OperandOutOfRange"):
        prover.adam(*operands(0, 0, 0, 0), (0, 0, 2**34 + 1, 1))    # alpha_t too large
    with reverts("OperandOutOfRange"):
        prover.softmaxGradient(*operands(5, 2**30), False, 1)        # a batch of one
    with reverts("OperandOutOfRange"):
        prover.poolChoice(operands(*([0] * 122)))                    # a window larger than 11 x 11


def test_an_opening_that_is_not_the_committed_value_reverts(prover):
    a, x, w = operands(0, 3, 4)
    chunk = merkle.unpack(x[1][1])
    chunk[0] = 5
    forged = (x[0], (x[1][0], merkle.pack(chunk), x[1][2]))
    with reverts("OpeningInvalid"):
        prover.productStep(a, forged, w)
    # the same proof under a claimed length it was not committed with
    with reverts("OpeningInvalid"):
        prover.productStep(a, ((x[0][0], x[0][1] + 1), x[1]), w)
    # an index outside the tensor (the leaf's zero padding is not an element)
    with reverts("OpeningInvalid"):
        prover.productStep(a, (x[0], (7, x[1][1], x[1][2])), w)
    # another element of the same leaf is not this one: the game asks for indices
    assert prover.productStep(a, (x[0], (2, x[1][1], x[1][2])), w) == 0 + 4 * 4


def test_table_entries_must_be_the_ones_the_argument_selects(prover):
    mo, zo = operands(2**16, 0)                                      # d = 2^16: exp_hi[64], exp_lo[0]
    assert prover.expEntry(mo, zo, table_opening(64), table_opening(1024)) == int(fp.exp_neg_q30(np.int64(2**16)))
    with reverts("OpeningInvalid"):
        prover.expEntry(mo, zo, table_opening(65), table_opening(1024))
    hi = table_opening(64)
    chunk = merkle.unpack(hi[1])
    chunk[0] += 1
    with reverts("OpeningInvalid"):                                  # a value not in the table
        prover.expEntry(mo, zo, (64, merkle.pack(chunk), hi[2]), table_opening(1024))
