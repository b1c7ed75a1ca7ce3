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
    """One bias moved a long way (a new h_W and maybe a lucky sample), with the smallest float
    step added to every other weight, is still one weight's change; a Sybil's copy of an update
    with three weights moved is that update's near-copy. Training, even a short step of it,
    or of the last layer alone, spreads its change."""
    torch.manual_seed(1)
    g = {"w": torch.randn(100), "b": torch.randn(10)}
    far = {k: torch.nextafter(v, v + 1) for k, v in g.items()}
    far["b"][3] += 5.0
    trained = {k: v + 0.3 * torch.randn_like(v) for k, v in g.items()}
    short = {k: v + 0.125 * 0.05 * torch.randn_like(v) for k, v in g.items()}   # 1/8 of a small step
    sybil = {k: v.clone() for k, v in trained.items()}
    sybil["w"][:3] += 1.0
    last_only = {"w": g["w"].clone(), "b": g["b"] + 0.05 * torch.randn(10)}    # a frozen "w"
    assert near_duplicates(g, [far, trained, short, sybil, last_only]) == [-1, None, None, 1, None]
