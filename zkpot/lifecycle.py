"""The one job lifecycle: a job's status, deadlines and allowed actions, from chain state.

Every door (API, dashboard, node, CLI) renders what ``lifecycle`` answers and derives nothing
itself; it is a pure function of the contract's ``getJob`` and ``attemptOf`` views and the
chain's time, written to say exactly what the contracts accept (contracts/escrow/*.sol):

- ``training``: the open stage runs in attempts. ``declare`` (a registered node with free
  collateral) while the attempt's commit phase is open, or when the attempt has ended without
  agreement (the declaration starts the next one), unless an attempt started now could not end
  before the deadline; ``reveal`` (the attempt's declarers) in its reveal phase; ``reclaim``
  (the employer) once the deadline has passed.
- ``awaiting-test-set``: ``publish_test_shard`` (the employer) until the test-set deadline;
  ``forfeit_bounty`` (anyone) after it.
- ``proving``: ``submit_accuracy_proof`` (anyone) until the proof deadline; ``reclaim`` (the
  employer) after it.
- ``complete`` / ``forfeited``: the bounty is owed to the last stage's paid nodes.
- ``failed`` / ``reclaimed``: over.
``settle`` (anyone, per declaration) is always offered while the job owes something, or has
declarations that may still be settled; which declaration is settleable is the chain's answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from zkpot.chain import AttemptView, JobStatus, JobView, StagePhase

STATUS_NAMES = {
    JobStatus.TRAINING: "training", JobStatus.AWAITING_TEST_SET: "awaiting-test-set",
    JobStatus.PROVING: "proving", JobStatus.COMPLETED: "complete", JobStatus.FAILED: "failed",
    JobStatus.FORFEITED: "forfeited", JobStatus.RECLAIMED: "reclaimed",
}
OPEN = ("training", "awaiting-test-set", "proving")


@dataclass(frozen=True)
class Action:
    """Something the contract accepts now: its name and who may call it."""

    name: str       # declare | reveal | settle | publish_test_shard | submit_accuracy_proof | forfeit_bounty | reclaim
    who: str        # employer | nodes | declarers | anyone


@dataclass(frozen=True)
class Deadlines:
    """The unix times that bound what the job accepts next (None: not applicable now)."""

    training: int
    commit: int | None = None        # the open attempt's commit phase ends
    reveal: int | None = None        # its reveal phase ends
    test_set: int | None = None      # the employer must have posted the test set
    proofs: int | None = None        # the accuracy proofs must be in


@dataclass(frozen=True)
class Lifecycle:
    """A job as every door shows it."""

    status: str
    stage: int | None                # the open stage
    attempt: int | None
    phase: str | None                # commit | reveal | ended (the open attempt's)
    stages_done: int
    stages: int
    declarations: int                # in the open attempt
    max_declarations: int
    waiting_for: str                 # what moves the job on, in words
    deadlines: Deadlines
    actions: list[Action] = field(default_factory=list)

    @property
    def open(self) -> bool:
        return self.status in OPEN

    def allows(self, name: str) -> bool:
        return any(a.name == name for a in self.actions)


def phase_at(job: JobView, attempt: AttemptView, now: int) -> tuple[StagePhase, int, int]:
    """The open attempt's phase at ``now`` and its commit and reveal deadlines, from the
    attempt's fields (a snapshot read earlier gives the right answer later): an attempt nobody
    declared in takes declarations and restarts its clock at the next one; otherwise the commit
    phase runs until its deadline (or until it filled), then the reveal phase, then it ended."""
    if job.status != JobStatus.TRAINING:
        return StagePhase.NONE, 0, 0
    if attempt.declarations == 0:
        start = attempt.start if now < attempt.start + job.commit_window else now
        commit = start + job.commit_window
        return StagePhase.COMMIT, commit, commit + job.reveal_window
    commit, reveal = attempt.commit_deadline, attempt.reveal_deadline
    if now < commit and attempt.declarations < attempt.max_declarations:
        return StagePhase.COMMIT, commit, reveal
    return (StagePhase.REVEAL if now < reveal else StagePhase.ENDED), commit, reveal


def lifecycle(job: JobView, attempt: AttemptView, now: int) -> Lifecycle:
    """The job's status, deadlines and allowed actions at chain time ``now``."""
    status = STATUS_NAMES.get(job.status, "unknown")
    actions: list[Action] = []
    deadlines = Deadlines(training=job.deadline)
    stage = attempt_no = phase = None
    declarations = max_declarations = 0
    if job.status == JobStatus.TRAINING:
        stage, attempt_no = attempt.stage, attempt.attempt
        declarations, max_declarations = attempt.declarations, attempt.max_declarations
        current, commit, reveal = phase_at(job, attempt, now)
        phase, waiting = _training(job, attempt, current, commit, reveal, now, actions)
        deadlines = Deadlines(job.deadline, commit, reveal)
    elif job.status == JobStatus.AWAITING_TEST_SET:
        deadlines = Deadlines(job.deadline, test_set=job.phase_deadline)
        if now < job.phase_deadline:
            actions.append(Action("publish_test_shard", "employer"))
            waiting = (f"the employer's test set ({job.shards_published} of {job.shard_count} shards "
                       "posted)")
        else:
            actions.append(Action("forfeit_bounty", "anyone"))
            waiting = "the bounty's forfeit: the test set did not come in time"
    elif job.status == JobStatus.PROVING:
        deadlines = Deadlines(job.deadline, proofs=job.phase_deadline)
        if now < job.phase_deadline:
            actions.append(Action("submit_accuracy_proof", "anyone"))
            waiting = f"the accuracy proofs ({job.shards_proven} of {job.shard_count} shards proven)"
        else:
            actions.append(Action("reclaim", "employer"))
            waiting = "the employer's reclaim: the proofs did not come in time"
    elif job.status in (JobStatus.COMPLETED, JobStatus.FORFEITED):
        waiting = "the last stage's paid nodes to settle their bounty shares" if job.owed else "nothing: done"
    else:
        waiting = "nodes to settle what they are owed" if job.owed else "nothing: done"
    if job.status != JobStatus.NONE and (job.owed or job.status == JobStatus.TRAINING or job.stages_done):
        actions.append(Action("settle", "anyone"))
    return Lifecycle(status, stage, attempt_no, phase, job.stages_done, job.stages, declarations,
                     max_declarations, waiting, deadlines, actions)


def _training(job: JobView, attempt: AttemptView, phase: StagePhase, commit: int, reveal: int, now: int,
              actions: list[Action]) -> tuple[str, str]:
    """The open attempt's phase and what it waits for; appends the actions it allows."""
    if now >= job.deadline:
        actions.append(Action("reclaim", "employer"))
        return _phase_name(phase), "the employer's reclaim: the deadline passed"
    if phase == StagePhase.COMMIT:
        if attempt.declarations or reveal <= job.deadline:
            actions.append(Action("declare", "nodes"))
        return "commit", (f"declarations of stage {attempt.stage} ({attempt.declarations} of at most "
                          f"{attempt.max_declarations}; the commit phase closes at {commit})")
    if phase == StagePhase.REVEAL:
        actions.append(Action("reveal", "declarers"))
        return "reveal", (f"openings of stage {attempt.stage} (C = {job.confirmations} agreeing finalise it; "
                          f"the reveal phase ends at {reveal})")
    # the attempt ended without agreement: the next declaration starts another
    if now + job.commit_window + job.reveal_window <= job.deadline:
        actions.append(Action("declare", "nodes"))
    return "ended", f"a new attempt of stage {attempt.stage}: the last ended without agreement"


def _phase_name(phase: StagePhase) -> str | None:
    return None if phase == StagePhase.NONE else phase.name.lower()


__all__ = ["Action", "Deadlines", "Lifecycle", "OPEN", "STATUS_NAMES", "lifecycle", "phase_at"]
