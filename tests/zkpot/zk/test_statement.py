"""The accuracy statement as a torch module: its count, and the graph ezkl is given."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch

from zkpot.certified import labels_onehot
from zkpot.zk.statement import AccuracyStatement, count_float, export_statement

from .conftest import CLASSES, FEATURES, tiny_model


class Fixed(torch.nn.Module):
    """A "classifier" that returns its input as logits, to place ties where we want them."""

    def forward(self, x):
        return x


def count(logits, rows, margin=1, scale=0) -> int:
    """The statement over integer logits at ``scale`` (steps of 2^-scale)."""
    x = torch.as_tensor(np.asarray(logits, dtype=np.float64) * 2.0 ** -scale, dtype=torch.float32)
    rows = torch.as_tensor(np.asarray(rows, dtype=np.int64))
    return int(AccuracyStatement(Fixed(), scale, margin)(x, rows).item())


def test_count_is_strict_and_finds_the_largest_logit_anywhere_in_the_row():
    logits = [[1, 3, 3, 0],      # tie for the largest: nobody counts
              [5, 1, 2, 4],      # largest first
              [0, 1, 2, 7],      # largest last
              [-1, -3, -1, -2]]  # negative, tied
    for labels, expected in (([2, 0, 3, 0], 2), ([1, 3, 2, 2], 0), ([1, 0, 0, 2], 1)):
        assert count(logits, labels_onehot(labels, 4)) == expected


def test_margin_counts_in_steps_of_the_logits_scale():
    logits = [[10, 9, 0], [10, 8, 0], [10, 7, 0], [10, 10, 0]]
    rows = labels_onehot([0, 0, 0, 0], 3)
    # integers at scale 4 are steps of 2^-4 (a margin of at most 2^4 steps fits)
    assert [count(logits, rows, margin, scale=4) for margin in (1, 2, 3, 4)] == [3, 2, 1, 0]
    with pytest.raises(ValueError):
        count(logits, rows, 17, scale=4)


def test_constant_logits_count_zero():
    assert count([[4, 4, 4]] * 5, labels_onehot([0, 1, 2, 0, 1], 3)) == 0


def test_rows_that_are_not_one_hot_count_zero():
    logits = [[9, 0, 0]] * 5
    rows = [[1, 0, 0], [1, 1, 0], [0, 0, 0], [2, 0, 0], [1, 1, -1]]
    assert count(logits, rows) == 1


def test_count_matches_the_float_argmax_without_ties():
    rng = np.random.default_rng(3)
    model = tiny_model(2).eval()
    X = rng.random((200, FEATURES), dtype=np.float32)
    y = rng.integers(0, CLASSES, 200)
    with torch.no_grad():
        counted = AccuracyStatement(model, 21)(torch.as_tensor(X), torch.as_tensor(labels_onehot(y, CLASSES)))
    assert counted.shape == (1,)
    assert 0 < int(counted.item()) == count_float(model, X, y) < 200


def test_margin_must_be_at_least_one_step():
    with pytest.raises(ValueError):
        AccuracyStatement(Fixed(), 7, 0)


@pytest.mark.parametrize("margin", [1, 5])
def test_exported_graph_holds_no_constant_but_the_weights(tmp_path, margin):
    """Every ONNX constant becomes a prover-chosen param in ezkl; the statement has none."""
    model = tiny_model(0)
    path = export_statement(model, (FEATURES,), CLASSES, 8, tmp_path / "s.onnx", logit_scale=21,
                            margin_steps=margin)
    graph = onnx.load(str(path)).graph
    assert [i.name for i in graph.initializer] == [f"model.{k}" for k in model.state_dict()]
    constants = [n for n in graph.node if n.op_type == "Constant"]
    values = [onnx.numpy_helper.to_array(n.attribute[0].t) for n in constants]
    # what is left: shape and index constants, and powers of two that only relabel ezkl's scale
    for v in values:
        assert v.dtype.kind == "i" or (v.size == 1 and 0 < float(v) < 1
                                       and np.log2(float(v)).is_integer())
    ops = {node.op_type for node in graph.node}
    assert "ReduceMax" not in ops and "ArgMax" not in ops and "Relu" in ops
