"""A node's work steps, apart from Celery: plan, train, declare, reveal, settle, prove, submit.

A stage is agreed in attempts (docs/pot.md, "Stage agreement"): in an attempt's commit phase a
node declares one hash binding its result; in the reveal phase it opens it; the C-th agreeing
opening finalises the stage; each declaration is then settled (paid, released or slashed).
Each step takes ids, re-reads the chain, and returns early when its work is already done, so
it can run twice (a redelivered task, a restart after SIGKILL) without harm; and it checks the
chain state it read before sending, so no transaction is sent that the chain would refuse:

- ``train``   — skipped if the attempt no longer takes declarations, or its secret is kept.
- ``declare`` — skipped if the chain already holds this node's declaration of the attempt; the
  secret (ρ, rand) and the weights are on disk (fsync'd) before the transaction is sent. The
  commit phase closed first (by count or time) is an outcome, not an error: the secret is
  marked unused.
- ``reveal``  — opens the node's declaration in its reveal phase (also late, after others
  finalised the stage, until that phase ends); S_{i+1} is stored before the opening.
- ``settle``  — settles the node's declaration once the chain can: its reward, its collateral,
  its bounty share. A declaration in the same job settles for free inside the node's next one.

``plan`` is the reconciler: from chain state, new events and the node's own store it answers
with the steps to run next. The watcher runs it every few seconds, which is what makes the
node resume after any crash or a lost queue (Redis restarted).
"""

from __future__ import annotations

import logging
import time
from functools import cached_property
from typing import Callable

from zkpot.chain import StagePhase
from zkpot.config import Settings
from zkpot.node import chainview, proving, training
from zkpot.node.given_up import GivenUpReport
from zkpot.node.outcomes import (Outcome, Plan, Skipped, Step, already, done, nothing, too_late,
                                 waiting)
from zkpot.node.identity import NodeIdentity, load_identity, node_dir
from zkpot.node.store import DECLARED, REVEALED, TRAINED, UNUSED, NodeStore
from zkpot.node.strategy import StageOffer, choose

log = logging.getLogger("zkpot.node")

# a training lease is stale when its holder stopped heartbeating this long ago (seconds); a
# holder that died is seen at once (its pid is gone), so a lost worker's stage is retaken on
# the watcher's next tick, not after this
LEASE_STALE = 20.0
# a step that fails this many times in a row with the same reason is given up (not retried)
FAIL_LIMIT = 3


def best_device() -> str:
    """``gpu`` when torch sees a CUDA device, else ``cpu``."""
    try:
        import torch

        return "gpu" if torch.cuda.is_available() else "cpu"
    except ImportError:
        return "cpu"


def target_attempt(attempt) -> int:
    """The attempt a node trains for now: the current one, or the next when it has ended."""
    return attempt.attempt + 1 if attempt.phase == StagePhase.ENDED else attempt.attempt


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
        offers: list[StageOffer] = []
        settle_later: list[int] = []
        for job_id in sorted(self._open_jobs()):
            job = self.chain.job(job_id)
            mine = self.chain.my_declaration(job_id)
            self._plan_reveal(job, mine, plan)
            if job.status != chainview.TRAINING:
                if job.status in (chainview.AWAITING_TEST_SET, chainview.PROVING):
                    self._plan_proof(job, plan)
                if self._settleable(job, mine):
                    plan.steps.append(Step("settle", job_id))
                elif job.status.ended and (mine.stage == 0 or mine.settled):
                    self._forget_job(job_id)
                continue
            attempt = self.chain.attempt(job_id)
            target = target_attempt(attempt)
            self._forget_stale(job_id, attempt.stage, target)
            secret = self.store.secret(job_id, attempt.stage, target)
            declared = mine.stage == attempt.stage and mine.attempt == target
            if secret is not None:
                if secret.status == TRAINED and not declared and self._can_declare(attempt, target):
                    plan.steps.append(Step("declare", job_id, attempt.stage, target))
                elif secret.status == TRAINED and not declared and attempt.phase == StagePhase.REVEAL:
                    self.store.mark(job_id, attempt.stage, target, UNUSED)
                continue
            if self._settleable(job, mine):
                settle_later.append(job_id)
            if declared or not self._can_declare(attempt, target):
                continue
            if self.given_up("train", job_id, attempt.stage) is not None:
                plan.skipped.append(f"job {job_id} stage {attempt.stage}: failed, "
                                    + self.given_up("train", job_id, attempt.stage))
                continue
            if self.store.get(f"skip:{job_id}:{attempt.stage}") is not None:
                plan.skipped.append(f"job {job_id} stage {attempt.stage}: skipped, "
                                    + self.store.get(f"skip:{job_id}:{attempt.stage}", ""))
                continue
            offers.append(StageOffer(
                job_id=job_id, stage=attempt.stage, attempt=target, reward=job.reward,
                declarations=0 if target != attempt.attempt else attempt.declarations,
                max_declarations=attempt.max_declarations, deadline=job.deadline, funded=job.funded,
                declared_by_me=declared))
        busy = set(self._training_now(plan))
        chosen, skipped = choose(offers, capacity=self.capacity, busy=busy, now=int(time.time()))
        plan.steps += [Step("train", o.job_id, o.stage, o.attempt) for o in chosen]
        # a declaration settles for free inside the node's next one in the same job: settle
        # apart only where the node is not about to declare there
        training = {o.job_id for o in chosen} | {job for job, _ in busy}
        plan.steps += [Step("settle", j) for j in settle_later if j not in training]
        for s in skipped:
            note = f"job {s.job_id} stage {s.stage}: {s.reason}"
            (plan.notes if s.reason.startswith("escrow") else plan.skipped).append(note)
        kept = []
        for step in plan.steps:
            reason = self.given_up(step.kind, step.job_id, step.stage)
            if reason is None:
                kept.append(step)
            else:
                plan.skipped.append(f"{step}: failed, {reason}")
        plan.steps = kept
        return plan

    # ---- steps that keep failing -----------------------------------------------------------
    def record_failure(self, kind: str, job_id: int, stage: int, reason: str) -> int:
        """Count a step's failure; returns how many times in a row it failed for ``reason``.
        At ``FAIL_LIMIT`` the step is given up: the plan no longer offers it, and
        ``zkpot node status`` shows the reason."""
        key = f"failing:{kind}:{job_id}:{stage}"
        last = self.store.get(key)
        count = 1
        if last is not None:
            prior, _, text = last.partition(" ")
            count = int(prior) + 1 if text == reason else 1
        self.store.put(key, f"{count} {reason}")
        self.store.put("last_error", f"{int(time.time())} {kind} job {job_id} stage {stage}: {reason}")
        if count >= FAIL_LIMIT:
            self.store.put(f"failed:{kind}:{job_id}:{stage}", f"{count} times: {reason}")
        return count

    def record_success(self, kind: str, job_id: int, stage: int) -> None:
        self.store.delete(f"failing:{kind}:{job_id}:{stage}")

    def given_up(self, kind: str, job_id: int, stage: int) -> str | None:
        """Why a step was given up after failing the same way ``FAIL_LIMIT`` times, or None."""
        return self.store.get(f"failed:{kind}:{job_id}:{stage}")

    def failures(self) -> list[tuple[str, int, int, str]]:
        """Steps given up: (kind, job, stage, reason)."""
        out = []
        for key, reason in self.store.items("failed:").items():
            _, kind, job, stage = key.split(":")
            out.append((kind, int(job), int(stage), reason))
        return out

    def unreported(self, now: int) -> list[GivenUpReport]:
        """Given-up steps not yet told to the gateway, each as a report dated ``now`` (unsigned:
        the sender signs only those it sends, ``GivenUpReport.sign``)."""
        out = []
        for kind, job_id, stage, reason in self.failures():
            if self.store.get(f"reported:{kind}:{job_id}:{stage}") is None:
                out.append(GivenUpReport.of(self.identity.address, self.chain.client.chain_id,
                                            self.chain.escrow.address, job_id, stage, kind, reason, now))
        return out

    def mark_reported(self, report: GivenUpReport, answer: str) -> None:
        """The gateway took the report (or refused it for good): it is not sent again."""
        self.store.put(f"reported:{report.kind}:{report.job_id}:{report.stage}", answer)

    @staticmethod
    def _can_declare(attempt, target: int) -> bool:
        if attempt.phase == StagePhase.ENDED:
            return True
        return (attempt.phase == StagePhase.COMMIT and target == attempt.attempt
                and attempt.declarations < attempt.max_declarations)

    def _plan_reveal(self, job, mine, plan: Plan) -> None:
        """Open this node's declaration when its attempt is in its reveal phase (or late, while
        the reveal phase of the attempt that finalised its stage still runs)."""
        if mine.stage == 0 or mine.position != 0 or mine.settled:
            return
        secret = self.store.secret(job.job_id, mine.stage, mine.attempt)
        # the chain is the truth: a declaration mined before a crash recorded it here is opened too
        if secret is None or mine.hash != secret.commitment[:24]:
            return
        if self._reveal_open(job, mine.stage, mine.attempt):
            plan.steps.append(Step("reveal", job.job_id, mine.stage, mine.attempt))

    def _reveal_open(self, job, stage: int, attempt: int) -> bool:
        if job.status == chainview.TRAINING and stage == job.stages_done + 1:
            a = self.chain.attempt(job.job_id)
            return a.attempt == attempt and a.phase == StagePhase.REVEAL
        result = self.chain.escrow.stage_result(job.job_id, stage)
        return result.attempt == attempt and self.chain.chain_time() < result.reveal_deadline

    def _settleable(self, job, mine) -> bool:
        """Whether the chain would settle this node's declaration in the job now."""
        if mine.stage == 0:
            return False
        if not mine.settled:
            if mine.stage > job.stages_done:       # the open stage (or where the job stopped)
                if job.status != chainview.TRAINING:
                    return True
                a = self.chain.attempt(job.job_id)
                return mine.attempt < a.attempt or a.phase == StagePhase.ENDED
            if mine.position != 0:
                return True                        # final and opened: paid, released or slashed
            result = self.chain.escrow.stage_result(job.job_id, mine.stage)
            return mine.attempt != result.attempt or self.chain.chain_time() >= result.reveal_deadline
        return (not mine.bounty_settled and job.status.name in ("COMPLETED", "FORFEITED")
                and mine.stage == job.stages
                and self.identity.address in self.chain.finalists(job.job_id, job.stages, job.confirmations))

    def _read_events(self, plan: Plan) -> None:
        """Advance the block cursor over new events; remember jobs."""
        start = int(self.store.get("cursor", "0"))
        events, last = self.chain.events_since(start)
        for ev in events:
            if ev.name == "JobCreated":
                self._remember_job(ev.args["jobId"])
                plan.notes.append(f"job {ev.args['jobId']} created")
            elif ev.name in ("StageFinalised", "StageAttemptFailed", "TestSetPublished", "JobCompleted",
                             "JobFailed", "BountyForfeited", "JobReclaimed"):
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
                self.store.forget(secret.job_id, secret.stage, secret.attempt)

    def _forget_stale(self, job_id: int, stage: int, target: int) -> None:
        """Drop secrets no declaration needs any more: earlier stages' and attempts' that were
        never declared (or whose declaration the chain has settled past)."""
        mine = self.chain.my_declaration(job_id)
        for s in self.store.secrets():
            if s.job_id != job_id or (s.stage, s.attempt) == (stage, target):
                continue
            still_mine = (s.stage, s.attempt) == (mine.stage, mine.attempt) and not mine.settled
            if not still_mine and (s.stage, s.attempt) < (stage, target):
                self.store.forget(s.job_id, s.stage, s.attempt)

    def _open_jobs(self) -> set[int]:
        raw = self.store.get("jobs", "")
        return {int(j) for j in raw.split(",") if j}

    def _training_now(self, plan: Plan) -> list[tuple[int, int]]:
        """Stages a live worker of this node trains now. A lease whose worker was lost (dead
        pid, or no heartbeat for ``LEASE_STALE``) is dropped and its stage retaken at once."""
        out = []
        for name in self.store.leases():
            if not name.startswith("train:"):
                continue
            _, job, stage, attempt = name.split(":")
            if self.store.held(name, LEASE_STALE):
                out.append((int(job), int(stage)))
            elif self.store.stale(name, LEASE_STALE):
                self.store.drop_lease(name)
                plan.retaken.append(Step("train", int(job), int(stage), int(attempt)))
                plan.notes.append(f"job {job} stage {stage}: its training worker was lost; "
                                  "training it again")
        return out

    def _plan_proof(self, job, plan: Plan) -> None:
        proving.plan(self, job, plan)

    # ---- steps -----------------------------------------------------------------------------
    def train(self, job_id: int, stage: int, attempt: int,
              progress: Callable[[int, int], None] | None = None) -> Outcome:
        """Train ``attempt`` of ``stage`` and keep its secret durably; return what happened."""
        lease = f"train:{job_id}:{stage}:{attempt}"
        if self.store.secret(job_id, stage, attempt) is not None:
            return already("already trained")
        if not self.store.acquire(lease, LEASE_STALE):
            return nothing("being trained by another worker of this node")
        try:
            job = self.chain.job(job_id)
            if job.status != chainview.TRAINING or job.open_stage != stage:
                return nothing(f"stage no longer open (job stage {job.open_stage})")
            a = self.chain.attempt(job_id)
            if target_attempt(a) != attempt or not self._can_declare(a, attempt):
                return too_late(f"attempt {attempt} no longer takes declarations (attempt {a.attempt}, "
                                f"{a.phase.name.lower()})")
            if not job.funded:
                raise Skipped("escrow does not cover the job's rewards")

            def beat(done: int, total: int) -> None:
                self.store.heartbeat(lease)
                self.store.set_progress(f"job{job_id}-stage{stage}", "train", done, total)
                if progress:
                    progress(done, total)

            try:
                result = training.run_stage(self, job, stage, attempt, beat, device=self.device)
            except Skipped as why:
                # remembered, so the watcher does not retry a stage whose inputs are bad
                self.store.put(f"skip:{job_id}:{stage}", str(why))
                raise
            rand = training.new_rand()
            self.store.save_trained(
                job_id, stage, attempt, weights_hash=result.weights_hash,
                model_commitment=result.model_commitment, rho=result.rho, rand=rand,
                commitment=training.commit(result, rand, self.identity.address), weights=result.weights)
            return done(f"trained: weights {result.weights_hash.hex()[:12]}…")
        finally:
            self.store.clear_progress(f"job{job_id}-stage{stage}")
            self.store.release(lease)

    def declare(self, job_id: int, stage: int, attempt: int) -> Outcome:
        """Declare a trained attempt, unless the chain already has this node's declaration."""
        secret = self.store.secret(job_id, stage, attempt)
        if secret is None:
            return nothing("nothing trained for this attempt")
        if secret.status == UNUSED:
            return too_late("too late, nothing to do: the secret is unused")
        mine = self.chain.my_declaration(job_id)
        if (mine.stage, mine.attempt) == (stage, attempt):
            self.store.mark(job_id, stage, attempt, DECLARED)
            return already("already declared")
        job = self.chain.job(job_id)
        if job.status != chainview.TRAINING or job.open_stage != stage:
            return nothing("stage no longer open")
        a = self.chain.attempt(job_id)
        if target_attempt(a) != attempt or not self._can_declare(a, attempt):
            self.store.mark(job_id, stage, attempt, UNUSED)
            return too_late(f"too late, nothing to do: attempt {a.attempt} is in its "
                            f"{a.phase.name.lower()} phase; secret unused")
        carried = mine.stage != 0 and not mine.settled
        if carried and not self._settleable(job, mine):
            return waiting("the previous declaration in this job is still open: it is revealed first")
        if not carried and self.chain.free_declarations() == 0:
            # the chain would refuse it (CollateralInsufficient): settled declarations elsewhere
            # free collateral, or the operator tops the stake up
            return waiting("waiting for collateral: the stake backs no more open declarations")
        late = self.chain.declare(job_id, stage, secret)
        if late is not None:
            # another declaration closed the commit phase between the read above and this one
            self.store.mark(job_id, stage, attempt, UNUSED)
            return too_late(f"too late, nothing to do: {late}; secret unused")
        self.store.mark(job_id, stage, attempt, DECLARED)
        return done(f"declared attempt {attempt}")

    def reveal(self, job_id: int, stage: int, attempt: int) -> Outcome:
        """Open the declaration of ``attempt`` in its reveal phase; store S_{i+1} first."""
        secret = self.store.secret(job_id, stage, attempt)
        if secret is None:
            return nothing("no secret kept for this attempt")
        mine = self.chain.my_declaration(job_id)
        if (mine.stage, mine.attempt) != (stage, attempt) or (mine.position == 0 and
                                                             mine.hash != secret.commitment[:24]):
            return nothing("the chain holds no declaration of this attempt by this node")
        if mine.position != 0:
            self.store.mark(job_id, stage, attempt, REVEALED)
            return already("already revealed")
        job = self.chain.job(job_id)
        if not self._reveal_open(job, stage, attempt):
            return nothing("the attempt is not in its reveal phase")
        cid = self.content.put(secret.weights_file.read_bytes())
        late = self.chain.reveal(job_id, stage, secret, cid)
        if late is not None:
            # the one race left: the phase ended after the read above; not retried
            return too_late(f"reveal too late: {late}; the declaration is slashed when settled")
        self.store.mark(job_id, stage, attempt, REVEALED)
        return done(f"revealed weights {cid}")

    def settle(self, job_id: int) -> Outcome:
        """Settle this node's declaration in the job when the chain can."""
        job = self.chain.job(job_id)
        if not self._settleable(job, self.chain.my_declaration(job_id)):
            return nothing("nothing to settle now")
        return done("settled") if self.chain.settle(job_id) else nothing("nothing to settle")

    def prove(self, job_id: int) -> Outcome:
        return proving.prove(self, job_id)

    def submit(self, job_id: int) -> Outcome:
        return proving.submit(self, job_id)

    def register(self, stake_wei: int | None) -> str:
        return self.chain.register(stake_wei)

    def withdraw(self) -> str:
        return self.chain.withdraw()

    def status(self):
        return chainview.node_status(self)
