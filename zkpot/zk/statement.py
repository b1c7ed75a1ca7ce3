"""The accuracy statement as a torch module, its ONNX export, and the float count beside it.

``AccuracyStatement(model, logit_scale, margin_steps)(x, onehot)`` is the number of samples
whose label row is one-hot and whose true-class logit exceeds every other class's logit by at
least ``margin_steps`` steps of the logits' scale (``zkpot.certified`` states it exactly).
ezkl compiles it with no rescaling, so every value is an exact integer and the count is a
function of the committed data and weights alone.

Why it is written the way it is:

- No constants. ezkl makes every constant of the graph a parameter, committed in h_W next to
  the weights and chosen by the prover: a margin written as a constant could be set to anything
  by whoever proves. The margin of one step is the strictness of ``>`` (ezkl proves ``a > b`` as
  ``a - b >= 1`` on integers); more steps are added as the label row sum (1 on a counted row)
  relabelled to the logits' scale (``x * 2^-k`` only changes ezkl's scale, it multiplies
  nothing). Setup checks that the params are the weights alone (``zkpot.zk.circuit``).
- The true class is taken out of the maximum by ``z - onehot``: the label's own logit is lowered
  by 1.0 (2^logit_scale steps), more than any margin, so the maximum is the largest other logit
  (or below it).
- The maximum is a chain of ReLUs, ``m <- m + relu(d_j - m)``: ezkl proves a ReduceMax with a
  shuffle argument per sample, the chain with a few range-checked rows.
- The model's ReLUs are computed as ``(x + |x|) / 2``, the halving a relabelling of ezkl's scale
  (one bit more), not a division: a third fewer rows than ezkl's ReLU (``zkpot.certified``
  evaluates the same integers).
- The label rows are checked in the circuit: every entry e must satisfy e*e == e (0 or 1) and
  the row sum s (times that check) s > s*s - s, true of the integers 0..C at s = 1 alone. A row
  that fails counts 0 (and is masked to zeros first, so the proof stays possible: no value
  leaves the range checks); ``zkpot.zk`` refuses such labels before proving. (ezkl's boolean
  range checks, ``b & b``, cost fewer rows but a lookup table more: +35k gas a proof.)
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from torch import nn

from zkpot.zk.graph import INPUT_NAMES


class HalvedAbsReLU(nn.Module):
    """ReLU as (x + |x|) * 0.5: exact; ezkl takes the 0.5 as one more bit of scale."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x + x.abs()) * 0.5


def circuit_form(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with its ReLUs in the form the circuit proves (same function)."""
    clone = copy.deepcopy(model)
    for name, child in clone.named_children():
        if isinstance(child, nn.ReLU):
            setattr(clone, name, HalvedAbsReLU())
    return clone


class AccuracyStatement(nn.Module):
    """forward(x, onehot) -> [count]: how many rows the wrapped classifier gets right, strictly."""

    def __init__(self, model: nn.Module, logit_scale: int, margin_steps: int = 1):
        super().__init__()
        if margin_steps < 1 or margin_steps > 2 ** logit_scale:
            raise ValueError(f"margin_steps must lie in [1, 2^{logit_scale}]")
        self.model = circuit_form(model)
        self.logit_scale = logit_scale
        self.margin_steps = margin_steps

    def forward(self, x: torch.Tensor, onehot: torch.Tensor) -> torch.Tensor:
        rows = onehot.float()
        # entries 0 or 1 (e*e == e holds for those field elements alone), and a row sum of
        # exactly 1 (s > s^2 - s holds for the integers 0..C at s = 1 alone)
        binary = (rows * rows == rows).float().prod(dim=1)
        total = rows.sum(dim=1) * binary
        valid = (total > total * total - total).float()
        rows = rows * valid.unsqueeze(1)         # a row that is not one-hot weighs nothing
        logits = self.model(x)
        true_logit = torch.einsum("ij,ij->i", logits, rows)
        lowered = logits - rows          # the label's own logit drops by 1.0: out of the max
        largest = lowered[:, 0]
        for j in range(1, lowered.shape[1]):
            largest = largest + torch.relu(lowered[:, j] - largest)
        threshold = largest
        extra, bit = self.margin_steps - 1, 0
        while extra:                     # (margin - 1) steps, as relabelled copies of `valid`
            if extra & 1:
                threshold = threshold + valid * 2.0 ** (bit - self.logit_scale)
            extra, bit = extra >> 1, bit + 1
        correct = (true_logit > threshold).float() * valid
        return correct.sum().reshape(1)


def with_weights(model: nn.Module, state_dict: Mapping[str, object] | None) -> nn.Module:
    """A float32 eval-mode copy of ``model``, loaded with ``state_dict`` when given."""
    clone = copy.deepcopy(model).float().eval()
    if state_dict is not None:
        tensors = {k: torch.as_tensor(np.asarray(v), dtype=torch.float32) for k, v in state_dict.items()}
        clone.load_state_dict(tensors)
    return clone


def export_statement(model: nn.Module, input_shape: tuple[int, ...], num_classes: int, n: int,
                     path: Path, state_dict: Mapping[str, object] | None = None, *,
                     logit_scale: int, margin_steps: int = 1) -> Path:
    """Write the statement over a shard of ``n`` samples to ONNX (weights as initializers; the
    label rows an int64 input, which ezkl keeps at scale 0)."""
    statement = AccuracyStatement(with_weights(model, state_dict), logit_scale, margin_steps).eval()
    x = torch.zeros((n, *input_shape), dtype=torch.float32)
    oh = torch.zeros((n, num_classes), dtype=torch.int64)
    with torch.no_grad():
        torch.onnx.export(statement, (x, oh), str(path), input_names=list(INPUT_NAMES),
                          output_names=["count"], opset_version=13, dynamo=False,
                          do_constant_folding=True)
    return path


def count_float(model: nn.Module, X, y, state_dict: Mapping[str, object] | None = None) -> int:
    """The float model's number of correct predictions (argmax of the logits == label).

    Shown beside the certified count, labelled as float: it is not what a certificate proves.
    """
    net = with_weights(model, state_dict)
    with torch.no_grad():
        logits = net(torch.as_tensor(np.asarray(X), dtype=torch.float32))
    labels = torch.as_tensor(np.asarray(y, dtype=np.int64).reshape(-1))
    return int((logits.argmax(dim=1) == labels).sum())


__all__ = ["AccuracyStatement", "export_statement",
           "count_float", "with_weights"]
