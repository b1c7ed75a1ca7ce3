"""Which stages a node works on (paper Alg. 1, step 1): open stages of open jobs, best first.

Pure: it sees a snapshot of chain state and the node's own work, and answers with stages to
start. A stage is worth starting when its job is open and funded, it is the job's next stage
(stages are sequential: S_{i+1} needs the final S_i), fewer than C nodes have declared, this
node has not declared or trained it, and the deadline leaves time. Among those, higher reward
per stage first, then the earlier deadline, then the older job. Capacity bounds how many run
at once.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StageOffer:
    """One stage a node could train, as read from the chain."""

    job_id: int
    stage: int
    reward: int             # wei per agreeing node for this stage
    declarations: int       # declarations so far
    quorum: int             # C
    deadline: int           # unix seconds
    funded: bool            # the escrow covers every stage's reward
    final: bool = False
    declared_by_me: bool = False


@dataclass(frozen=True)
class Skip:
    job_id: int
    stage: int
    reason: str


def choose(offers: list[StageOffer], *, capacity: int, busy: set[tuple[int, int]],
           now: int, min_time_left: int = 0) -> tuple[list[StageOffer], list[Skip]]:
    """Stages to start now (at most ``capacity`` minus what is busy) and why others were left."""
    chosen: list[StageOffer] = []
    skipped: list[Skip] = []
    for offer in offers:
        key = (offer.job_id, offer.stage)
        reason = _why_not(offer, busy, now, min_time_left)
        if reason:
            skipped.append(Skip(offer.job_id, offer.stage, reason))
        else:
            chosen.append(offer)
    chosen.sort(key=lambda o: (-o.reward, o.deadline, o.job_id, o.stage))
    room = max(0, capacity - len(busy))
    for offer in chosen[room:]:
        skipped.append(Skip(offer.job_id, offer.stage, "no free capacity"))
    return chosen[:room], skipped


def _why_not(offer: StageOffer, busy: set[tuple[int, int]], now: int, min_time_left: int) -> str:
    if offer.final:
        return "stage already final"
    if not offer.funded:
        return "escrow does not cover the job's rewards"
    if offer.deadline and offer.deadline - now <= min_time_left:
        return "deadline too close"
    if offer.declared_by_me:
        return "already declared by this node"
    if (offer.job_id, offer.stage) in busy:
        return "already in progress here"
    if offer.declarations >= offer.quorum:
        return f"{offer.declarations} of {offer.quorum} declarations already in"
    return ""
