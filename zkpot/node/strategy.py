"""Which work a node takes on: stages to train (paper Alg. 1, step 1) and shards to prove.

Pure: it sees a snapshot of chain state and the node's own work, and answers with stages to
start or shards to prove. A stage attempt is worth training when its job is open and funded,
it is the job's open stage (stages are sequential: S_{i+1} needs the final S_i), the attempt
takes declarations (its commit phase is open and not full, or the last attempt ended and the
next one starts with the first declaration), this node has not declared or trained it, and the
deadline leaves time. Among those, higher reward per declaration first, then the earlier
deadline, then the older job. Capacity bounds how many run at once.

Proving a shard is the heaviest step (ezkl: minutes, ~4 GB), and only the first accepted proof
of a shard is paid, so one node per shard proves at once: the *designated prover*, read from
chain state every node sees alike (``designated_prover``). The other finalists stand by for a
grace period of chain time after ``TestSetPublished`` and prove only a shard still unproven
then, so a designated node that is down costs a delay, never the bounty (``proof_turn``).
Only finalists (the final stage's paid nodes) may submit a proof (the escrow refuses others
with ``CallerNotFinalist``), so any other node never proves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable


@dataclass(frozen=True)
class StageOffer:
    """One stage attempt a node could train, as read from the chain."""

    job_id: int
    stage: int
    attempt: int
    reward: int             # wei per paid declaration
    declarations: int       # declarations in the attempt so far
    max_declarations: int   # 2C - 1: the commit phase closes when they are in
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
    if offer.declarations >= offer.max_declarations:
        return f"the attempt's {offer.max_declarations} declarations are in"
    return ""


# ---- who proves a shard ------------------------------------------------------------------

@dataclass(frozen=True)
class ProofTurn:
    """Whether this node proves ``shard`` now, and why (or until when it stands by)."""

    shard: int
    prove: bool
    reason: str
    not_before: int = 0     # chain time from which a standby node proves (0: not waiting)


def designated_prover(job_id: int, shard: int, finalists: Iterable[str]) -> str | None:
    """The node that proves ``shard`` first: the final stage's paid nodes in address order,
    taken in turn from ``job_id + shard`` (shards of a job, and jobs, spread over the nodes)."""
    unique = {int(a, 16): a for a in finalists}
    ordered = [unique[k] for k in sorted(unique)]
    return ordered[(job_id + shard) % len(ordered)] if ordered else None


def grace_period(grace_s: int, published_at: int, proof_deadline: int) -> int:
    """``grace_s``, cut to half the proof window so a standby node still has time to prove."""
    return max(0, min(grace_s, (proof_deadline - published_at) // 2))


def proof_turn(me: str, job_id: int, shard: int, *, finalists: Iterable[str], published_at: int,
               proof_deadline: int, now: int, grace_s: int, proven: bool = False) -> ProofTurn:
    """Prove now if this node is the shard's designated prover, or if it is another finalist
    and the shard is still unproven a grace period (chain time) after the test set was
    published; else stand by. A node that is not a finalist never proves: the chain would
    refuse its proof."""
    if proven:
        return ProofTurn(shard, False, "already proven")
    finalists = list(finalists)
    if int(me, 16) not in {int(a, 16) for a in finalists}:
        return ProofTurn(shard, False, "not a finalist of the job: only the final stage's paid "
                                       "nodes may submit its proofs")
    designated = designated_prover(job_id, shard, finalists)
    if designated is not None and int(designated, 16) == int(me, 16):
        return ProofTurn(shard, True, "designated prover")
    grace = grace_period(grace_s, published_at, proof_deadline)
    start = published_at + grace
    if now >= start:
        return ProofTurn(shard, True, f"still unproven {now - published_at} s after the test set "
                                      f"(grace {grace} s)")
    return ProofTurn(shard, False, f"standing by for {designated or 'the finalists'} until chain "
                                   f"time {start} ({start - now} s)", start)
