"""Near-duplicate updates, found by the employer (who decrypts them). Pure.

An update whose weights lie within a relative distance ``tolerance`` of the round's global
model, or of an update accepted before it in the round, adds nothing a FedAvg needs: it is
left out of the aggregate, so Sybil copies of one update cannot outweigh independent ones.
The contract cannot see weights; this is the employer's check, beside the certified rule.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

TOLERANCE = 1e-3


def _flat(state: Mapping[str, torch.Tensor]) -> torch.Tensor:
    return torch.cat([v.detach().float().reshape(-1) for v in state.values()])


def near_duplicates(global_state: Mapping[str, torch.Tensor], states: Sequence[Mapping[str, torch.Tensor]],
                    tolerance: float = TOLERANCE) -> list[int | None]:
    """For each update (in order), -1 if it is a near-copy of the global model, the index of
    the earlier update it nearly copies, or None if it is its own."""
    g = _flat(global_state)
    scale = float(g.norm()) or 1.0
    kept: list[tuple[int, torch.Tensor]] = []
    verdicts: list[int | None] = []
    for i, state in enumerate(states):
        w = _flat(state)
        if float((w - g).norm()) <= tolerance * scale:
            verdicts.append(-1)
            continue
        twin = next((j for j, other in kept if float((w - other).norm()) <= tolerance * float((other - g).norm())),
                    None)
        verdicts.append(twin)
        if twin is None:
            kept.append((i, w))
    return verdicts
