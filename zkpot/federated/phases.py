"""A federated round's fixed phases by chain time, decided once for every caller.

A round starts when the task is created (round 0) or when its predecessor is closed; its commit
phase lasts ``commitWindow`` seconds, its reveal phase the ``revealWindow`` seconds after that,
and only then may the employer close it (FederatedTask's ``roundPhases``). The participant,
the employer, the CLI and the worker read the phase from ``RoundPhases.phase_at`` and derive
nothing else. Pure: no web3.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

# Defaults of a task's windows (the contract takes 1 s to 30 days each).
COMMIT_WINDOW_S = 3600  # training and one proof per shard, with participants polling for rounds
REVEAL_WINDOW_S = 600   # one transaction per participant, with room for a congested chain


class RoundPhase(str, Enum):
    """Where the open round stands: what the contract takes now."""

    commit = "commit"  # commitUpdate only
    reveal = "reveal"  # submitUpdate only
    over = "over"      # closeRound (the employer) only


@dataclass(frozen=True)
class RoundPhases:
    """The open round's boundaries in chain time (seconds): start, commit end, reveal end."""

    start: int
    commit_end: int
    reveal_end: int

    def phase_at(self, now: int) -> RoundPhase:
        """The phase chain time ``now`` falls in (the contract's own comparisons)."""
        if now < self.commit_end:
            return RoundPhase.commit
        if now < self.reveal_end:
            return RoundPhase.reveal
        return RoundPhase.over

    def phase_end(self, phase: RoundPhase) -> int | None:
        """When ``phase`` ends (None: the round is over and stays so until it is closed)."""
        return {RoundPhase.commit: self.commit_end, RoundPhase.reveal: self.reveal_end}.get(phase)

    def seconds_left(self, now: int) -> int:
        """Seconds until the phase ``now`` falls in ends (0 once the round is over)."""
        end = self.phase_end(self.phase_at(now))
        return 0 if end is None else end - now


class RoundNotOver(RuntimeError):
    """The employer tried to close a round whose reveal phase has not ended."""

    def __init__(self, round_: int, reveal_end: int, now: int):
        self.round = round_
        self.reveal_end = reveal_end
        self.now = now
        super().__init__(f"round {round_}'s reveal phase ends at chain time {reveal_end}, "
                         f"in {reveal_end - now} s: it cannot be closed before")

    @property
    def seconds_left(self) -> int:
        return self.reveal_end - self.now
