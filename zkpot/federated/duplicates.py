"""Near-duplicate updates, found by the employer (who decrypts them). Pure.

An update is a near-copy of the round's global model, or of an update accepted before it in
the round, when its weights lie within a relative distance ``tolerance`` of it, or when at
most ``CONCENTRATED_K`` weights carry ``CONCENTRATED_SHARE`` of its squared distance from it:
a tweak (one bias moved, however far, for a new h_W and maybe a lucky sample; any dust added
to every other weight changes nothing) moves one or a few weights, while local training
spreads its change over many (measured on the digits MLPs of the federated tests, on one to
three classes of 4 to 60 samples, or with the first layer frozen: the 4 largest changes held
at most 63% of the squared distance). Either adds nothing a FedAvg needs: it is left out of the
aggregate, so tweaked copies cannot outweigh independent updates. The contract cannot see
weights; this is the employer's check, beside the certified rule. It is a filter, not a proof:
a copy that moves more than a few weights (by random amounts, a random model near the global
one) passes it, and the certified rule then pays it only the samples it gains by luck.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

TOLERANCE = 1e-3
CONCENTRATED_K = 4          # a change whose 4 largest entries …
CONCENTRATED_SHARE = 0.9    # … carry 90% of its squared norm is a tweak


def _flat(state: Mapping[str, torch.Tensor]) -> torch.Tensor:
    return torch.cat([v.detach().float().reshape(-1) for v in state.values()])


def near_duplicates(global_state: Mapping[str, torch.Tensor], states: Sequence[Mapping[str, torch.Tensor]],
                    tolerance: float = TOLERANCE) -> list[int | None]:
    """For each update (in order), -1 if it is a near-copy of the global model, the index of
    the earlier update it nearly copies, or None if it is its own."""
    g = _flat(global_state)
    scale = float(g.norm()) or 1.0

    def near(w: torch.Tensor, base: torch.Tensor, distance: float) -> bool:
        energy = (w.double() - base.double()).square()
        total = float(energy.sum())
        top = float(energy.topk(min(CONCENTRATED_K, energy.numel())).values.sum())
        return top >= CONCENTRATED_SHARE * total or total ** 0.5 <= tolerance * distance

    kept: list[tuple[int, torch.Tensor]] = []
    verdicts: list[int | None] = []
    for i, state in enumerate(states):
        w = _flat(state)
        if near(w, g, scale):
            verdicts.append(-1)
            continue
        twin = next((j for j, other in kept if near(w, other, float((other - g).norm()))), None)
        verdicts.append(twin)
        if twin is None:
            kept.append((i, w))
    return verdicts
