"""A node's work steps, apart from Celery: plan, train, declare, reveal, prove, submit, withdraw.

Each step takes ids, re-reads the chain, and returns early when its work is already done, so
it can run twice (a redelivered task, a restart after SIGKILL) without harm:

- ``train``   — skipped if the stage is no longer open, or a secret for it is already kept.
- ``declare`` — skipped if the chain already holds this node's declaration of the stage; the
  secret (ρ, rand) and the weights are on disk (fsync'd) before the transaction is sent. Too
  late (C agreeing declarations first, ``AgreementReached``) is an outcome, not an error: the
  secret is marked unused and never declared.
- ``reveal``  — skipped if the stage is already final; S_{i+1} is uploaded before the reveal.

``plan`` is the reconciler: from chain state, new events and the node's own store it answers
with the steps to run next. The watcher runs it every few seconds, which is what makes the
node resume after any crash or a lost queue (Redis restarted).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable

from zkpot.config import Settings
from zkpot.node import chainview
from zkpot.node.identity import NodeIdentity, load_identity, node_dir
from zkpot.node.store import DECLARED, REVEALED, TRAINED, UNUSED, NodeStore, StageSecret
from zkpot.node.strategy import StageOffer, choose

log = logging.getLogger("zkpot.node")

# a training lease is stale when its holder stopped heartbeating this long ago (seconds)
LEASE_STALE = 20.0


class Skipped(Exception):
    """The step will not run for a reason the operator should read (logged, not retried)."""


@dataclass(frozen=True)
class Step:
    """One unit of work the watcher enqueues."""

    kind: str          # train | declare | reveal | prove | submit
    job_id: int
    stage: int = 0

    def __str__(self) -> str:
        return f"{self.kind} job {self.job_id}" + (f" stage {self.stage}" if self.stage else "")


@dataclass
class Plan:
    steps: list[Step] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)     # news worth an operator's attention
    skipped: list[str] = field(default_factory=list)   # routine: why a stage was left alone


def best_device() -> str:
    """``gpu`` when torch sees a CUDA device, else ``cpu``."""
    try:
        import torch

        return "gpu" if torch.cuda.is_available() else "cpu"
    except ImportError:
        return "cpu"


class Node:
    """One node identity with its store, chain access and content store."""

    def __init__(self, settings: Settings, identity: NodeIdentity | None = None,
                 capacity: int = 1, device: str = "cpu"):
        self.settings = settings
        self.identity = identity or load_identity(settings)
        self.store = NodeStore(node_dir(settings, self.identity))
        self.capacity = capacity
        self.device = device

    @cached_property
    def chain(self) -> "chainview.NodeChain":
        return chainview.NodeChain(self.settings, self.identity)

    @cached_property
    def content(self):
        from zkpot.storage import open_store

        return open_store(self.settings)

    # ---- the reconciler ------------------------------------------------------------------
    def plan(self) -> Plan:
        """What to do next, from new events, chain state and this node's store."""
        plan = Plan()
        self._read_events(plan)
        mine = {(s.job_id, s.stage): s for s in self.store.secrets()}
        offers: list[StageOffer] = []
        for job_id in self._open_jobs():
            job = self.chain.job(job_id)
            if job.status != chainview.TRAINING:
                if job.status in (chainview.AWAITING_TEST_SET, chainview.PROVING):
                    self._plan_proof(job, plan)
                if job.status in chainview.ENDED:
                    self._forget_job(job_id)
                continue
            stage = job.open_stage
            for (jid, st), secret in mine.items():
                if jid == job_id and st < stage:
                    self.store.forget(jid, st)      # final meanwhile: the secret served its turn
            secret = mine.get((job_id, stage))
            declared = self.chain.declared_stage(job_id) == stage
            if secret is not None:
                if secret.status == UNUSED:
                    continue                        # too late to declare: kept until final
                if not declared and job.declarations < job.confirmations:
                    plan.steps.append(Step("declare", job_id, stage))
                elif declared and self.chain.agreement(job_id, stage, secret) >= job.confirmations:
                    plan.steps.append(Step("reveal", job_id, stage))
                continue
            if self.store.get(f"skip:{job_id}:{stage}") is not None:
                plan.skipped.append(f"job {job_id} stage {stage}: skipped, "
                                    + self.store.get(f"skip:{job_id}:{stage}", ""))
                continue
            offers.append(StageOffer(
                job_id=job_id, stage=stage, reward=job.reward, declarations=job.declarations,
                quorum=job.confirmations, deadline=job.deadline, funded=job.funded,
                declared_by_me=declared))
        busy = {k for k in self._training_now()}
        chosen, skipped = choose(offers, capacity=self.capacity, busy=busy, now=int(time.time()))
        plan.steps += [Step("train", o.job_id, o.stage) for o in chosen]
        for s in skipped:
            note = f"job {s.job_id} stage {s.stage}: {s.reason}"
            (plan.notes if s.reason.startswith("escrow") else plan.skipped).append(note)
        return plan

    def _read_events(self, plan: Plan) -> None:
        """Advance the block cursor over new events; remember jobs and declarations."""
        start = int(self.store.get("cursor", "0"))
        events, last = self.chain.events_since(start)
        for ev in events:
            if ev.name == "JobCreated":
                self._remember_job(ev.args["jobId"])
                plan.notes.append(f"job {ev.args['jobId']} created")
            elif ev.name in ("StageFinalised", "TestSetPublished", "JobCompleted", "JobFailed",
                             "JobReclaimed"):
                plan.notes.append(f"job {ev.args['jobId']}: {ev.name}"
                                  + (f" stage {ev.args['stage']}" if "stage" in ev.args else ""))
        self.store.put("cursor", str(last + 1))

    def _remember_job(self, job_id: int) -> None:
        jobs = self._open_jobs()
        if job_id not in jobs:
            self.store.put("jobs", ",".join(str(j) for j in sorted(jobs | {job_id})))

    def _forget_job(self, job_id: int) -> None:
        jobs = self._open_jobs() - {job_id}
        self.store.put("jobs", ",".join(str(j) for j in sorted(jobs)))
        for secret in self.store.secrets():
            if secret.job_id == job_id:
                self.store.forget(secret.job_id, secret.stage)

    def _open_jobs(self) -> set[int]:
        raw = self.store.get("jobs", "")
        return {int(j) for j in raw.split(",") if j}

    def _training_now(self) -> list[tuple[int, int]]:
        out = []
        for name in self.store.leases():
            if name.startswith("train:") and self.store.held(name, LEASE_STALE):
                _, job, stage = name.split(":")
                out.append((int(job), int(stage)))
        return out

    def _plan_proof(self, job, plan: Plan) -> None:
        from zkpot.node import proving

        proving.plan(self, job, plan)

    # ---- steps -----------------------------------------------------------------------------
    def train(self, job_id: int, stage: int,
              progress: Callable[[int, int], None] | None = None) -> str:
        """Train ``stage`` of ``job_id`` and keep its secret durably; return what happened."""
        from zkpot.node import training

        lease = f"train:{job_id}:{stage}"
        if self.store.secret(job_id, stage) is not None:
            return "already trained"
        if not self.store.acquire(lease, LEASE_STALE):
            return "being trained by another worker of this node"
        try:
            job = self.chain.job(job_id)
            if job.status != chainview.TRAINING or job.open_stage != stage:
                return f"stage no longer open (job stage {job.open_stage})"
            if not job.funded:
                raise Skipped("escrow does not cover the job's rewards")

            def beat(done: int, total: int) -> None:
                self.store.heartbeat(lease)
                self.store.set_progress(f"job{job_id}-stage{stage}", "train", done, total)
                if progress:
                    progress(done, total)

            try:
                result = training.run_stage(self, job, stage, beat, device=self.device)
            except Skipped as why:
                # remembered, so the watcher does not retry a stage whose inputs are bad
                self.store.put(f"skip:{job_id}:{stage}", str(why))
                raise
            rand = training.new_rand()
            self.store.save_trained(
                job_id, stage, weights_hash=result.weights_hash,
                model_commitment=result.model_commitment, rho=result.rho, rand=rand,
                commitment=training.commit(result.rho, rand, self.identity.address),
                weights=result.weights)
            return f"trained: weights {result.weights_hash.hex()[:12]}…"
        finally:
            self.store.clear_progress(f"job{job_id}-stage{stage}")
            self.store.release(lease)

    def declare(self, job_id: int, stage: int) -> str:
        """Declare a trained stage, unless the chain already has this node's declaration."""
        secret = self.store.secret(job_id, stage)
        if secret is None:
            return "nothing trained for this stage"
        if secret.status == UNUSED:
            return "too late, nothing to do: the secret is unused"
        if self.chain.declared_stage(job_id) == stage:
            self.store.mark(job_id, stage, DECLARED)
            return "already declared"
        job = self.chain.job(job_id)
        if job.status != chainview.TRAINING or job.open_stage != stage:
            return "stage no longer open"
        if job.declarations >= job.confirmations:
            self.store.mark(job_id, stage, UNUSED)
            return "too late, nothing to do: agreement reached without this node; secret unused"
        too_late = self.chain.declare(job_id, stage, secret)
        if too_late is not None:
            # the stage moved on between the read above and the transaction: a normal outcome
            self.store.mark(job_id, stage, UNUSED)
            return f"too late, nothing to do: {too_late}; secret unused"
        self.store.mark(job_id, stage, DECLARED)
        return f"declared {secret.weights_hash.hex()[:12]}…"

    def reveal(self, job_id: int, stage: int) -> str:
        """Reveal ρ once C declarations agree; upload S_{i+1} first. Done if already final."""
        secret = self.store.secret(job_id, stage)
        if secret is None:
            return "no secret kept for this stage"
        if secret.status == UNUSED:
            return "not declared (too late): nothing to reveal"
        job = self.chain.job(job_id)
        if job.status != chainview.TRAINING or job.open_stage != stage:
            self.store.mark(job_id, stage, REVEALED)
            return "stage already final"
        if self.chain.agreement(job_id, stage, secret) < job.confirmations:
            return "agreement not reached yet"
        cid = self.content.put(secret.weights_file.read_bytes())
        self.chain.reveal(job_id, stage, secret, cid)
        self.store.mark(job_id, stage, REVEALED)
        return f"revealed; stage final with weights {cid}"

    def prove(self, job_id: int) -> str:
        from zkpot.node import proving

        return proving.prove(self, job_id)

    def submit(self, job_id: int) -> str:
        from zkpot.node import proving

        return proving.submit(self, job_id)

    def register(self, stake_wei: int | None) -> str:
        return self.chain.register(stake_wei)

    def withdraw(self) -> str:
        return self.chain.withdraw()

    def status(self):
        return chainview.node_status(self)
