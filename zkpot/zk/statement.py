"""The accuracy statement as a torch module, its ONNX export, and the float reference count.

``AccuracyStatement(model)(x, onehot)`` is the number of samples whose true-class logit is the
largest ("margin" formulation): an exact integer at output scale 0 in ezkl, unlike an
ArgMax/Equal graph whose output scale misleads.

The largest logit is taken as a chain of ReLUs, ``m ← m + relu(z_j − m)``, not with
``max``: ezkl proves a ReduceMax with one shuffle argument per sample (a commitment and its
openings each, 64 of them in a shard of 64), while the chain costs a few range-checked rows.
On the digits MLP at N=64 (Poseidon-hashed weights then) this cut rows from 60,944 to 58,576,
the proof from 7,648 to 6,560 bytes and on-chain verification by ~144k gas (docs/zk.md). The
count is the same: a sample is correct when its true-class logit is at least every logit (ties
count as correct).
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

INPUT_NAMES = ("x", "onehot")


class AccuracyStatement(nn.Module):
    """forward(x, onehot) -> [count]: how many rows the wrapped classifier gets right."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor, onehot: torch.Tensor) -> torch.Tensor:
        logits = self.model(x)
        true_logit = (logits * onehot).sum(dim=1)
        largest = logits[:, 0]
        for j in range(1, logits.shape[1]):
            largest = largest + torch.relu(logits[:, j] - largest)
        correct = true_logit >= largest
        return correct.float().sum().reshape(1)


def onehot(y, num_classes: int) -> np.ndarray:
    labels = np.asarray(y, dtype=np.int64).reshape(-1)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes})")
    return np.eye(num_classes, dtype=np.float32)[labels]


def with_weights(model: nn.Module, state_dict: Mapping[str, object] | None) -> nn.Module:
    """A float32 eval-mode copy of ``model``, loaded with ``state_dict`` when given."""
    clone = copy.deepcopy(model).float().eval()
    if state_dict is not None:
        tensors = {k: torch.as_tensor(np.asarray(v), dtype=torch.float32) for k, v in state_dict.items()}
        clone.load_state_dict(tensors)
    return clone


def export_statement(model: nn.Module, input_shape: tuple[int, ...], num_classes: int, n: int,
                     path: Path, state_dict: Mapping[str, object] | None = None) -> Path:
    """Write the statement over a shard of ``n`` samples to ONNX (weights as initializers)."""
    statement = AccuracyStatement(with_weights(model, state_dict)).eval()
    x = torch.zeros((n, *input_shape), dtype=torch.float32)
    oh = torch.zeros((n, num_classes), dtype=torch.float32)
    with torch.no_grad():
        torch.onnx.export(statement, (x, oh), str(path), input_names=list(INPUT_NAMES),
                          output_names=["count"], opset_version=13, dynamo=False,
                          do_constant_folding=True)
    return path


def architecture_hash(onnx_path: Path) -> str:
    """sha256 of the exported graph with weight values left out: equal for every model of an
    architecture, different when a layer, shape or operator changes."""
    graph = onnx.load(str(onnx_path)).graph
    skeleton = {
        "nodes": [[n.op_type, list(n.input), list(n.output),
                   [onnx.helper.printable_attribute(a) for a in n.attribute]] for n in graph.node],
        "initializers": [[i.name, list(i.dims), i.data_type] for i in graph.initializer],
        "inputs": [str(i.type) for i in graph.input],
        "outputs": [str(o.type) for o in graph.output],
    }
    return hashlib.sha256(json.dumps(skeleton, sort_keys=True).encode()).hexdigest()


def count_float(model: nn.Module, X, y, state_dict: Mapping[str, object] | None = None) -> int:
    """The float model's number of correct predictions (argmax of the logits == label)."""
    net = with_weights(model, state_dict)
    with torch.no_grad():
        logits = net(torch.as_tensor(np.asarray(X), dtype=torch.float32))
    labels = torch.as_tensor(np.asarray(y, dtype=np.int64).reshape(-1))
    return int((logits.argmax(dim=1) == labels).sum())


__all__ = ["AccuracyStatement", "export_statement", "architecture_hash", "count_float", "onehot",
           "with_weights"]
