"""Near-copies the employer leaves out of the aggregate."""

import torch

from zkpot.federated.duplicates import near_duplicates


def test_tweaked_global_models_and_copies_of_an_update_are_near_duplicates():
    torch.manual_seed(0)
    g = {"w": torch.randn(100), "b": torch.randn(10)}
    honest = {k: v + 0.5 * torch.randn_like(v) for k, v in g.items()}
    other = {k: v + 0.5 * torch.randn_like(v) for k, v in g.items()}
    tweak = {k: v.clone() for k, v in g.items()}
    tweak["b"][3] += 0.01
    copy = {k: v.clone() for k, v in honest.items()}
    copy["b"][0] += 1e-4
    assert near_duplicates(g, [honest, tweak, copy, other]) == [None, -1, 0, None]
