"""Near-duplicate updates, found by the employer (who decrypts them). Pure.

An update is a near-copy of the round's global model, or of an update accepted before it in
the round, when its weights lie within a relative distance ``tolerance`` of it, or when it
differs from it in fewer than ``CHANGED_MIN`` of the weights: local training moves almost
every weight (each one with a gradient), while a tweak (one bias changed, however far, to get
a new h_W and maybe a lucky sample) moves a handful. Either adds nothing a FedAvg needs: it is
left out of the aggregate, so tweaked copies cannot outweigh independent updates. The
contract cannot see weights; this is the employer's check, beside the certified rule. (A
copy with every weight moved by noise large enough to pass both tests is a random model near
the global one: the certified rule pays it only the samples it gains by luck.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

TOLERANCE = 1e-3
CHANGED_MIN = 0.1   # an update that moves fewer than 10% of the weights is a tweak


def _flat(state: Mapping[str, torch.Tensor]) -> torch.Tensor:
    return torch.cat([v.detach().float().reshape(-1) for v in state.values()])


def near_duplicates(global_state: Mapping[str, torch.Tensor], states: Sequence[Mapping[str, torch.Tensor]],
                    tolerance: float = TOLERANCE) -> list[int | None]:
    """For each update (in order), -1 if it is a near-copy of the global model, the index of
    the earlier update it nearly copies, or None if it is its own."""
    g = _flat(global_state)
    scale = float(g.norm()) or 1.0

    def near(w: torch.Tensor, base: torch.Tensor, distance: float) -> bool:
        moved = float((w != base).float().mean())
        return moved < CHANGED_MIN or float((w - base).norm()) <= tolerance * distance

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
