"""Index records → public schemas (pure: no I/O). Status, deadlines and actions come from the
one lifecycle function (``zkpot.lifecycle``) over the chain views the index keeps; nothing
here decides a job's state itself."""

from __future__ import annotations

from api.index import ChainIndex, JobRecord, StageRecord
from api.schemas import (ActionPublic, ChainRef, DeadlinesPublic, DeclarationPublic, JobPublic, JobSummary,
                         ProofPublic, RevealPublic, StageMetrics, StagePublic, TestShardPublic)
from zkpot.escrow_terms import escrow_of
from zkpot.lifecycle import Lifecycle, lifecycle


def job_lifecycle(job: JobRecord, now: int) -> Lifecycle:
    """The job's lifecycle from the chain views the index read after its latest event."""
    return lifecycle(job.view, job.attempt, now)


def job_summary(job: JobRecord, now: int) -> JobSummary:
    c = job.created
    life = job_lifecycle(job, now)
    deposit = escrow_of(int(c["stages"]), int(c["confirmations"]), int(c["reward"]), int(c["bounty"]))
    return JobSummary(
        job_id=job.job_id, employer=c["employer"], status=life.status,
        manifest_hash=c["manifestHash"], manifest_cid=c["manifestCid"], stage_count=life.stages,
        stages_final=life.stages_done, quorum=int(c["confirmations"]),
        reward_per_declaration=str(c["reward"]), bounty=str(c["bounty"]), deposit=str(deposit),
        paid=str(job.paid), deadline=int(c["deadline"]), waiting_for=life.waiting_for,
        created=ChainRef(block=job.block, tx=job.tx))


def _declarations(s: StageRecord) -> list[DeclarationPublic]:
    settled = {(x["node"], int(x["attempt"])): kind for kind, xs in
               (("slashed", s.slashed), ("paid", s.paid), ("released", s.released)) for x in xs}
    reveals = {(r["node"], int(r["attempt"])): r for r in s.reveals}
    out = []
    for d in s.declarations:
        node, attempt = d["node"], int(d["attempt"])
        opened = reveals.get((node, attempt))
        status = settled.get((node, attempt)) or ("revealed" if opened else "committed")
        out.append(DeclarationPublic(
            node=node, attempt=attempt, commitment=d["commitment"], status=status,
            position=int(opened["position"]) if opened else None,
            weights_hash=opened["weightsHash"] if opened else None, paid=status == "paid",
            block=d["block"], tx=d["tx"]))
    return out


def _stage(i: int, s: StageRecord | None, life: Lifecycle, metrics: StageMetrics | None) -> StagePublic:
    s = s or StageRecord()
    fin = None
    if s.finalised:
        f = s.finalised
        fin = RevealPublic(finaliser=f["finaliser"], attempt=int(f["attempt"]), weights_hash=f["weightsHash"],
                           model_commitment=str(f["modelCommitment"]), rho=f["rho"], weights_cid=f["cid"],
                           block=f["block"], tx=f["tx"])
        state, attempt = "final", fin.attempt
    elif life.stage == i:
        attempt = life.attempt or 0
        state = {"commit": "committing", "reveal": "revealing", "ended": "retrying"}.get(life.phase or "", "waiting")
        if state == "committing" and not life.declarations:
            state = "waiting"
    else:
        state, attempt = "waiting", 0
    return StagePublic(stage=i, state=state, attempt=attempt, failed_attempts=len(s.failed_attempts),
                       declarations=_declarations(s), finalised=fin, paid=[x["node"] for x in s.paid],
                       slashed=sorted({x["node"] for x in s.slashed}), metrics=metrics if fin else None)


def job_public(job: JobRecord, now: int, theta: float | None = None,
               metrics: dict[int, StageMetrics] | None = None,
               stages_from: int = 1, stages_limit: int | None = None) -> JobPublic:
    """The job with stages ``stages_from`` .. ``stages_from + stages_limit - 1`` (all by default)."""
    summary = job_summary(job, now)
    life = job_lifecycle(job, now)
    total = summary.stage_count
    metrics = metrics or {}
    last_shown = total if stages_limit is None else min(total, stages_from + stages_limit - 1)
    stages = [_stage(i, job.stages.get(i), life, metrics.get(i)) for i in range(stages_from, last_shown + 1)]
    final = job.stages.get(total)
    last_cid = final.finalised["cid"] if final is not None and final.finalised else None
    correct = job.completed or job.failed
    d = life.deadlines
    return JobPublic(
        **summary.model_dump(), theta=theta, stages=stages, phase=life.phase,
        deadlines=DeadlinesPublic(training=d.training, commit=d.commit, reveal=d.reveal,
                                  test_set=d.test_set, proofs=d.proofs),
        actions=[ActionPublic(name=a.name, who=a.who) for a in life.actions],
        test_shards=[TestShardPublic(shard=i, data_hash=t["dataHash"], block=t["block"], tx=t["tx"])
                     for i, t in sorted(job.test_shards.items())],
        proofs=[ProofPublic(shard=int(p["shard"]), submitter=p["submitter"],
                            correct=int(p["correctCount"]), block=p["block"], tx=p["tx"])
                for p in job.proofs],
        correct=int(correct["correctCount"]) if correct else None,
        final_model_cid=last_cid, can_reclaim=life.allows("reclaim"))


def jobs_of(index: ChainIndex, before: int | None = None, limit: int | None = None) -> list[JobRecord]:
    """Jobs newest first; only ids below ``before`` when given; at most ``limit``."""
    with index._lock:
        ids = sorted((i for i in index.jobs if before is None or i < before), reverse=True)
        return [index.jobs[i] for i in ids[:limit]]
