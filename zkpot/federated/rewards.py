"""The federated reward rule, as the contract applies it (FederatedTask.submitUpdate). Pure.

Every round's global model has a certified count b on the task's test set (proven when the
round that publishes it closes; 0 for an initial model created without proofs). An update
with certified count c is accepted only if c >= θ and c >= b + m (m = the task's
``minImprovement`` >= 1), and is paid

    rewardPerUpdate * (c - b) / (N - b)

the share of the global model's remaining errors it fixes. A participant who does no
training and resubmits the global model, slightly changed, certifies about b: it gains less
than m and is refused, so it earns nothing. docs/federated.md gives the reasoning and what the
rule cannot stop.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class RewardTerms:
    """What the rule needs from the task: N, θ, m and the full reward."""

    samples: int
    threshold: int
    min_improvement: int
    reward_per_update: int


def improvement_reward(correct: int, baseline: int, terms: RewardTerms) -> int:
    """Wei the contract credits an update certified ``correct`` over a global model certified
    ``baseline`` (0 when it would refuse the update)."""
    if correct < terms.threshold or correct < baseline + terms.min_improvement:
        return 0
    counted = min(correct, terms.samples)
    return terms.reward_per_update * (counted - baseline) // (terms.samples - baseline)


def toward(global_state: Mapping[str, torch.Tensor], trained: Mapping[str, torch.Tensor],
           step: float) -> dict[str, torch.Tensor]:
    """The model a fraction ``step`` of the way from the global model to ``trained``."""
    return {k: global_state[k].float() + step * (trained[k].float() - global_state[k].float()) for k in global_state}


def best_step(global_state: Mapping[str, torch.Tensor], trained: Mapping[str, torch.Tensor],
              steps: Sequence[float], count) -> tuple[float, dict[str, torch.Tensor], int]:
    """The step toward ``trained`` whose model ``count`` (a certified-count function of a
    state) rates highest; ties go to the longer step. Local training on skewed data often
    overshoots what the task's test set rewards: a shorter step keeps the update's gain."""
    best = None
    for step in sorted(steps, reverse=True):
        state = dict(trained) if step == 1 else toward(global_state, trained, step)
        c = count(state)
        if best is None or c > best[2]:
            best = (step, state, c)
    if best is None:
        raise ValueError("no steps to choose from")
    return best
