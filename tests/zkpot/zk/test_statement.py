"""The accuracy statement as a torch module: its count, and the graph ezkl is given."""

from __future__ import annotations

import numpy as np
import onnx
import torch

from zkpot.zk.statement import AccuracyStatement, count_float, export_statement, onehot

from .conftest import CLASSES, FEATURES, tiny_model


def reference_count(logits: torch.Tensor, labels: np.ndarray) -> int:
    """Samples whose true-class logit is at least every logit, written out plainly."""
    z = logits.detach().numpy()
    return sum(int(all(z[i, labels[i]] >= z[i, j] for j in range(z.shape[1]))) for i in range(len(z)))


def test_count_is_the_true_logit_at_least_every_logit():
    rng = np.random.default_rng(3)
    model = tiny_model(2).eval()
    X = torch.as_tensor(rng.random((200, FEATURES), dtype=np.float32))
    y = rng.integers(0, CLASSES, 200)
    with torch.no_grad():
        counted = AccuracyStatement(model)(X, torch.as_tensor(onehot(y, CLASSES)))
        expected = reference_count(model(X), y)
    assert counted.shape == (1,) and int(counted.item()) == expected
    assert 0 < expected < 200          # both outcomes occur, so the check can fail
    assert expected == count_float(model, X.numpy(), y)   # no ties in random data


class Fixed(torch.nn.Module):
    """A "classifier" that returns its input as logits, to place ties where we want them."""

    def forward(self, x):
        return x


def test_ties_and_a_largest_logit_anywhere_in_the_row():
    logits = torch.tensor([[1.0, 3.0, 3.0, 0.0],    # tie for the largest: true class 2 counts
                           [5.0, 1.0, 2.0, 4.0],    # largest first
                           [0.0, 1.0, 2.0, 7.0],    # largest last
                           [-1.0, -3.0, -0.5, -2.0]])
    for labels, expected in (([2, 0, 3, 2], 4), ([0, 3, 2, 0], 0), ([1, 0, 0, 2], 3)):
        oh = torch.as_tensor(onehot(labels, 4))
        assert int(AccuracyStatement(Fixed())(logits, oh).item()) == expected
        assert expected == reference_count(logits, np.asarray(labels))


def test_exported_graph_takes_no_reduce_max(tmp_path):
    """ezkl proves a ReduceMax with one shuffle argument per sample; the statement avoids it."""
    path = export_statement(tiny_model(0), (FEATURES,), CLASSES, 8, tmp_path / "s.onnx")
    ops = {node.op_type for node in onnx.load(str(path)).graph.node}
    assert "ReduceMax" not in ops and "ArgMax" not in ops and "Relu" in ops
