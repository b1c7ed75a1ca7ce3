"""FedAvg: the weighted mean of participants' model states.

In a zkpot federation the weight of an accepted update is its proven correct-count on the
task's test set (the number the contract checked), so a better proven update pulls the global
model harder; plain FedAvg (McMahan et al.) weights by local sample counts instead.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def fedavg(states: Sequence[dict[str, torch.Tensor]], weights: Sequence[float]) -> dict[str, torch.Tensor]:
    """Weighted parameter-wise mean of ``states`` (same keys and shapes), weights >= 0."""
    if not states or len(states) != len(weights):
        raise ValueError("need one weight per state and at least one state")
    total = float(sum(weights))
    if total <= 0 or any(w < 0 for w in weights):
        raise ValueError("weights must be non-negative with a positive sum")
    keys = list(states[0])
    for state in states[1:]:
        if list(state) != keys:
            raise ValueError("states have different parameters")
    return {
        key: sum(state[key].to(torch.float32) * (w / total) for state, w in zip(states, weights))
        for key in keys
    }
