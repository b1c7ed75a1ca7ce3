"""The reward rule off-chain (it mirrors FederatedTask.submitUpdate) and the step a
participant submits."""

import pytest
import torch

from zkpot.federated.rewards import RewardTerms, best_step, improvement_reward, toward

TERMS = RewardTerms(samples=32, threshold=10, min_improvement=2, reward_per_update=3200)


@pytest.mark.parametrize("correct,baseline,paid", [
    (20, 10, 3200 * 10 // 22),   # pays the share of the global model's errors it fixes
    (32, 0, 3200),               # right on everything over an uncertified model: the full reward
    (12, 10, 3200 * 2 // 22),    # exactly the margin
    (11, 10, 0),                 # a tweaked copy of the global model: below the margin
    (9, 0, 0),                   # below θ
    (20, 25, 0),                 # worse than the global model
])
def test_improvement_reward_matches_the_contracts_rule(correct, baseline, paid):
    assert improvement_reward(correct, baseline, TERMS) == paid


def test_a_count_past_the_test_set_is_capped():
    assert improvement_reward(40, 16, TERMS) == 3200


def test_best_step_takes_the_step_the_count_rates_highest_and_the_longer_on_ties():
    g = {"w": torch.zeros(2)}
    t = {"w": torch.ones(2)}
    rated = {1.0: 5, 0.5: 9, 0.25: 9}
    step, state, count = best_step(g, t, (0.25, 1.0, 0.5), lambda s: rated[float(s["w"][0])])
    assert (step, count) == (0.5, 9)
    assert torch.equal(state["w"], toward(g, t, 0.5)["w"])


def test_best_step_of_the_whole_step_is_the_trained_model():
    g, t = {"w": torch.zeros(1)}, {"w": torch.full((1,), 3.0)}
    step, state, _ = best_step(g, t, (1.0,), lambda s: 0)
    assert step == 1.0 and torch.equal(state["w"], t["w"])
