"""Non-IID partitions of a labelled dataset across federation participants.

Label skew by a Dirichlet prior (Hsu et al. 2019): for each class, the share of its samples
that each participant gets is drawn from Dir(alpha). Small alpha gives each participant a few
dominant classes; large alpha tends to an IID split. Seeded, so every run makes the same
federation.
"""

from __future__ import annotations

import numpy as np


def dirichlet_split(y: np.ndarray, participants: int, alpha: float = 0.5, seed: int = 0,
                    min_samples: int = 10) -> list[np.ndarray]:
    """Sample indices for each participant (disjoint, covering every sample once)."""
    if participants < 1 or alpha <= 0:
        raise ValueError("need at least one participant and alpha > 0")
    y = np.asarray(y)
    if len(y) < participants * min_samples:
        raise ValueError("not enough samples for every participant's minimum")
    rng = np.random.default_rng(seed)
    for _ in range(100):  # redraw until every participant holds enough to train on
        parts: list[list[int]] = [[] for _ in range(participants)]
        for label in np.unique(y):
            idx = rng.permutation(np.flatnonzero(y == label))
            shares = rng.dirichlet(np.full(participants, alpha))
            cuts = (np.cumsum(shares)[:-1] * len(idx)).astype(int)
            for part, chunk in zip(parts, np.split(idx, cuts)):
                part.extend(chunk.tolist())
        if min(len(p) for p in parts) >= min_samples:
            return [np.sort(np.array(p, dtype=np.int64)) for p in parts]
    raise ValueError("could not draw a split with the minimum size; raise alpha")


def label_histogram(y: np.ndarray, parts: list[np.ndarray], num_classes: int) -> np.ndarray:
    """Per-participant class counts, shape (participants, num_classes): how skewed the split is."""
    return np.stack([np.bincount(np.asarray(y)[p], minlength=num_classes) for p in parts])
