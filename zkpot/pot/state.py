"""S_i as data: a PoT state's integers and its canonical bytes, and the stage's error type.

No torch here: a process that only reads, hashes or certifies states (a prover, an auditor)
imports this module alone; ``zkpot.stage`` re-exports both names and trains.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from zkpot.hashing import serialize_state, weights_hash
from zkpot.pot.layout import STATE_FORMAT, FRAC_BITS, StateRangeError, check_ranges, parse_state


class StageError(ValueError):
    """A stage cannot run: the state, chunk or device does not fit the spec, or training failed."""


@dataclass
class TrainingState:
    """S_i: parameters (Q20), optimiser buffers and the optimiser step count, all integers."""

    params: dict[str, np.ndarray]
    buffers: dict[str, np.ndarray] = field(default_factory=dict)
    step: int = 0

    def to_bytes(self) -> bytes:
        """Canonical serialisation (``zkpot.hashing.serialize_state``)."""
        meta = {"format": STATE_FORMAT, "step": self.step, "frac_bits": FRAC_BITS}
        return serialize_state({**self.params, **self.buffers}, meta)

    @classmethod
    def from_bytes(cls, data: bytes) -> "TrainingState":
        """Parse a serialised state; ``StageError`` if it is malformed or a value is out of range."""
        try:
            tensors, step = parse_state(bytes(data))
            check_ranges(tensors, step)
        except StateRangeError as exc:
            raise StageError(str(exc)) from None
        own = {k: v.astype(np.int64) for k, v in tensors.items()}
        return cls({k: v for k, v in own.items() if not k.startswith("opt.")},
                   {k: v for k, v in own.items() if k.startswith("opt.")}, step)

    def hash(self) -> bytes:
        """H(S): keccak256 of ``to_bytes()``."""
        return weights_hash(self.to_bytes())
