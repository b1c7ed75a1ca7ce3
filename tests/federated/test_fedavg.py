import pytest
import torch

from zkpot.federated.fedavg import fedavg


def test_weighted_mean_per_parameter():
    a = {"w": torch.tensor([0.0, 4.0]), "b": torch.tensor([1.0])}
    b = {"w": torch.tensor([4.0, 0.0]), "b": torch.tensor([3.0])}
    out = fedavg([a, b], [3, 1])
    assert torch.allclose(out["w"], torch.tensor([1.0, 3.0]))
    assert torch.allclose(out["b"], torch.tensor([1.5]))


def test_zero_weight_update_has_no_influence():
    a = {"w": torch.tensor([1.0])}
    poisoned = {"w": torch.tensor([1e6])}
    assert torch.equal(fedavg([a, poisoned], [5, 0])["w"], torch.tensor([1.0]))


@pytest.mark.parametrize("states,weights", [
    ([], []),
    ([{"w": torch.zeros(1)}], [0]),
    ([{"w": torch.zeros(1)}], [1, 2]),
    ([{"w": torch.zeros(1)}, {"v": torch.zeros(1)}], [1, 1]),
    ([{"w": torch.zeros(1)}, {"w": torch.zeros(1)}], [2, -1]),
])
def test_invalid_inputs_are_refused(states, weights):
    with pytest.raises(ValueError):
        fedavg(states, weights)
