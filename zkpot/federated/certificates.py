"""The off-chain source of certified counts: how many test samples a model gets right as the
task's accuracy certificate counts them.

Participants use it to choose what to submit (``rewards.best_step``), the employer to report.
Every such count comes from ``certified_count``, so a reference evaluator that reproduces the
circuit's count exactly replaces the float count here, and nowhere else; a proof's own count
stays the one the contract pays by.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from zkpot import zk


def certified_count(circuit: zk.Circuit, state: Mapping[str, object], X: np.ndarray, y: np.ndarray) -> int:
    """Correct predictions of ``state`` on (X, y) as the certificate counts them (today the
    float model's argmax, within a sample of the circuit's count at scale 7, docs/zk.md)."""
    return zk.count_float(circuit.model, X, y, state)


# how far the float count may lie from the circuit's before the employer distrusts a
# certificate (docs/zk.md: within one sample at scale 7); 0 with an exact reference evaluator
COUNT_TOLERANCE = 2
