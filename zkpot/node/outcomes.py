"""What a node step answers, as types: the step's outcome, a skip, and the watcher's plan.

Steps return an ``Outcome`` (a kind a caller branches on, and a line an operator reads); a step
that will not run for a reason the operator should see raises ``Skipped``. Nobody parses prose.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Skipped(Exception):
    """The step will not run for a reason the operator should read (logged, not retried)."""


class OutcomeKind(enum.Enum):
    DONE = "done"                  # the step did its work (trained, declared, revealed …)
    ALREADY_DONE = "already_done"  # the chain or the store shows it done before (a redelivery)
    NOTHING_TO_DO = "nothing_to_do"  # the state read says there is no work for this step now
    WAITING = "waiting"            # work remains but the chain cannot take it yet
    TOO_LATE = "too_late"          # a phase closed first: an outcome of the protocol, not an error
    SKIPPED = "skipped"            # bad inputs or a refusal, remembered and never retried
    ERROR = "error"                # failed this time; the watcher enqueues it again
    FAILED = "failed"              # failed the same way repeatedly: given up with its reason


@dataclass(frozen=True)
class Outcome:
    kind: OutcomeKind
    detail: str

    def __str__(self) -> str:
        return self.detail

    @property
    def did_work(self) -> bool:
        return self.kind in (OutcomeKind.DONE, OutcomeKind.ALREADY_DONE)

    def as_dict(self) -> dict[str, str]:
        """JSON for a task result."""
        return {"kind": self.kind.value, "detail": self.detail}


def done(detail: str) -> Outcome:
    return Outcome(OutcomeKind.DONE, detail)


def already(detail: str) -> Outcome:
    return Outcome(OutcomeKind.ALREADY_DONE, detail)


def nothing(detail: str) -> Outcome:
    return Outcome(OutcomeKind.NOTHING_TO_DO, detail)


def waiting(detail: str) -> Outcome:
    return Outcome(OutcomeKind.WAITING, detail)


def too_late(detail: str) -> Outcome:
    return Outcome(OutcomeKind.TOO_LATE, detail)


@dataclass(frozen=True)
class Step:
    """One unit of work the watcher enqueues."""

    kind: str          # train | declare | reveal | settle | prove | submit
    job_id: int
    stage: int = 0
    attempt: int = 0

    def __str__(self) -> str:
        where = f" stage {self.stage} attempt {self.attempt}" if self.stage else ""
        return f"{self.kind} job {self.job_id}{where}"


@dataclass
class Plan:
    steps: list[Step] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)     # news worth an operator's attention
    skipped: list[str] = field(default_factory=list)   # routine: why a stage was left alone
    # train steps whose worker was lost (a lease that went stale): enqueue again at once
    retaken: list[Step] = field(default_factory=list)
