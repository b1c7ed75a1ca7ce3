"""Index records → public schemas (pure: no I/O)."""

from __future__ import annotations

from api.index import ChainIndex, JobRecord, StageRecord
from api.schemas import (ChainRef, DeclarationPublic, JobPublic, JobSummary, ProofPublic,
                         RevealPublic, StageMetrics, StagePublic)


def _status(job: JobRecord, final: int, total: int) -> str:
    if job.reclaimed:
        return "reclaimed"
    if job.completed:
        return "complete"
    if job.failed:
        return "failed"
    if job.test_set:
        return "proving"
    if final >= total:
        return "awaiting-test-set"
    return "training"


def _final_count(job: JobRecord, total: int) -> int:
    return sum(1 for i in range(1, total + 1) if i in job.stages and job.stages[i].finalised)


def job_summary(job: JobRecord) -> JobSummary:
    c = job.created
    total = int(c["stages"])
    final = _final_count(job, total)
    deposit = total * int(c["confirmations"]) * int(c["reward"]) + int(c["bounty"])
    return JobSummary(
        job_id=job.job_id, employer=c["employer"], status=_status(job, final, total),
        manifest_hash=c["manifestHash"], manifest_cid=c["manifestCid"], stage_count=total,
        stages_final=final, quorum=int(c["confirmations"]), reward_per_stage=str(c["reward"]),
        bounty=str(c["bounty"]), deposit=str(deposit), paid=str(job.paid),
        deadline=int(c["deadline"]), created=ChainRef(block=job.block, tx=job.tx))


def _stage(i: int, s: StageRecord | None, metrics: StageMetrics | None) -> StagePublic:
    s = s or StageRecord()
    slashed = {x["node"] for x in s.slashed}
    conflicting = {x["node"] for x in s.conflicts}
    paid = set(s.paid)
    decls = []
    for d in s.declarations:
        node = d["node"]
        status = ("slashed" if node in slashed else "conflicting" if node in conflicting
                  else "revealed" if s.finalised else "committed")
        decls.append(DeclarationPublic(
            node=node, weights_hash=d["weightsHash"], model_commitment=str(d["modelCommitment"]),
            commitment=d["commitment"], status=status, paid=node in paid, block=d["block"], tx=d["tx"]))
    fin = None
    if s.finalised:
        f = s.finalised
        fin = RevealPublic(revealer=f["revealer"], weights_hash=f["weightsHash"], rho=f["rho"],
                           weights_cid=f["cid"], confirmed=int(f["confirmed"]), block=f["block"], tx=f["tx"])
    state = "final" if fin else "agreed" if s.agreed else "declared" if decls else "waiting"
    return StagePublic(stage=i, state=state, declarations=decls, finalised=fin, paid=s.paid,
                       slashed=sorted(slashed), conflicts=sorted(conflicting),
                       metrics=metrics if fin else None)


def job_public(job: JobRecord, now: int, theta: float | None = None,
               metrics: dict[int, StageMetrics] | None = None,
               stages_from: int = 1, stages_limit: int | None = None) -> JobPublic:
    """The job with stages ``stages_from`` .. ``stages_from + stages_limit - 1`` (all by default)."""
    summary = job_summary(job)
    total = summary.stage_count
    metrics = metrics or {}
    last_shown = total if stages_limit is None else min(total, stages_from + stages_limit - 1)
    stages = [_stage(i, job.stages.get(i), metrics.get(i)) for i in range(stages_from, last_shown + 1)]
    final = job.stages.get(total) if total in job.stages else None
    last = _stage(total, final, None).finalised if final is not None and final.finalised else None
    open_status = summary.status in ("training", "awaiting-test-set", "proving")
    return JobPublic(
        **summary.model_dump(), theta=theta, stages=stages,
        test_set_cid=job.test_set["cid"] if job.test_set else None,
        proofs=[ProofPublic(shard=int(p["shard"]), submitter=p["submitter"],
                            correct=int(p["correctCount"]), block=p["block"], tx=p["tx"])
                for p in job.proofs],
        correct=int(job.completed["correctCount"]) if job.completed else None,
        final_model_cid=last.weights_cid if last else None,
        can_reclaim=open_status and now > summary.deadline)


def jobs_of(index: ChainIndex, before: int | None = None, limit: int | None = None) -> list[JobRecord]:
    """Jobs newest first; only ids below ``before`` when given; at most ``limit``."""
    with index._lock:
        ids = sorted((i for i in index.jobs if before is None or i < before), reverse=True)
        return [index.jobs[i] for i in ids[:limit]]
