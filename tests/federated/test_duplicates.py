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


def test_a_tweak_far_enough_to_move_a_count_is_still_a_near_copy():
    """One bias moved a long way (a new h_W and maybe a lucky sample) moves 1 weight in 110;
    training, even a short step of it, moves them all."""
    torch.manual_seed(1)
    g = {"w": torch.randn(100), "b": torch.randn(10)}
    far = {k: v.clone() for k, v in g.items()}
    far["b"][3] += 5.0
    step = {k: v + 0.125 * 0.05 * torch.randn_like(v) for k, v in g.items()}   # 1/8 of a small step
    sybil = {k: v.clone() for k, v in step.items()}
    sybil["w"][:5] += 3.0                                                       # 5 of 110 weights
    assert near_duplicates(g, [far, step, sybil]) == [-1, None, 1]
