"""The participant's side of a federated round, in the round's two phases.

Commit phase (``commit_round``): fetch the round's global model (checked against its on-chain
commitment), train it with the caller's own training function on private data that never
leaves this process, pick the step toward the trained model that the reward rule pays best
(``rewards.best_step``), prove the update's accuracy on the task's public test set, encrypt
the update to the employer's key, store the envelope by CID and commit to the update in this
identity's name (only when the rule would pay it: an honest participant saves the gas). Reveal phase (``reveal``):
wait for it on chain time and submit the proofs and the CID. Nobody can commit once reveals
are readable, so a copied submission is worth nothing. What leaves the machine: the
commitment, the proof (commitments and a count), the envelope and its CID.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

import numpy as np
from torch import nn

from zkpot import zk
from zkpot.chain.clock import ChainClock, LiveChainClock, chain_time
from zkpot.chain.errors import ContractError
from zkpot.datasets import decode_chunk
from zkpot.federated.chain import FederatedTaskClient, PhaseRefusal, TaskStatus, TaskView
from zkpot.federated.commitment import update_commitment
from zkpot.federated.crypto import encrypt_update, update_aad
from zkpot.federated.certificates import certified_count
from zkpot.federated.manifest import TaskManifest
from zkpot.federated.phases import RoundPhase, RoundPhases
from zkpot.federated.rewards import RewardTerms, best_step, improvement_reward
from zkpot.federated.updates import decode_state, encode_state
from zkpot.storage import Store

REVEAL_ATTEMPTS = 3  # a reveal refused as early (RevealPhaseNotOpen) is retried after waiting
STEPS = (1.0, 0.5, 0.25, 0.125)  # fractions of the way to the trained model a participant tries

# what a participant's training function does: the round's global model in, its update out
TrainFn = Callable[[dict], dict]


def fetch_manifest(task_client: FederatedTaskClient, store: Store, task_id: int) -> TaskManifest:
    """The task's manifest (architecture, shard size, test set) from its on-chain CID."""
    return TaskManifest.decode(store.get(task_client.manifest_cid(task_id)))


def participant_for_task(task_client: FederatedTaskClient, store: Store, settings, task_id: int,
                         **options) -> "Participant":
    """A participant set up from the task's manifest: its model and (cached) circuit."""
    manifest = fetch_manifest(task_client, store, task_id)
    return Participant(task_client, store, manifest.circuit(settings), manifest.model_factory(), **options)


class GlobalModelMismatch(RuntimeError):
    """The stored global model does not hash to the commitment the employer published."""


@dataclass
class RoundOutcome:
    """What happened to one participant's update in one round."""

    participant: str
    round: int
    label: str  # what the caller calls this participant (e.g. its behaviour in a demo)
    proven_correct: int
    threshold: int
    baseline: int = 0  # the round's global model's certified count
    step: float = 1.0  # the fraction of the way to its trained model it submitted
    submitted: bool = False  # committed to (then revealed, unless the commitment was refused)
    accepted: bool = False
    model_commitment: int = 0
    cid: str | None = None
    refusal: str | None = None  # why it was not accepted: the contract's error name, or no proof
    reward: int = 0  # wei credited
    gas_used: int | None = None  # of the accepted submitUpdate
    commit_gas_used: int | None = None  # of its commitUpdate
    reveal_retries: list[str] = field(default_factory=list)  # refusals of reveals sent too early
    uploaded: list[str] = field(default_factory=list)  # CIDs this participant stored


@dataclass
class PendingReveal:
    """An update committed in its round's commit phase, to be submitted in the reveal phase."""

    task_id: int
    phases: RoundPhases
    proofs: list[bytes]
    instances: list[list[int]]
    outcome: RoundOutcome  # its model commitment and CID; completed by the reveal


class SkipReason(str, Enum):
    """Why a participant does nothing in the open round."""

    task_closed = "task_closed"              # the task is completed or refunded
    submitted = "submitted"                  # this identity's update of the round is accepted
    handled = "handled"                      # this participant already took its turn in the round
    commit_phase_over = "commit_phase_over"  # too late to commit: wait for the next round


@dataclass(frozen=True)
class RoundSkipped:
    """The open round offers this participant nothing to do now, and where the round stands."""

    round: int
    reason: SkipReason
    phase: RoundPhase | None = None  # None when the task is closed
    seconds_left: int = 0            # in that phase


@dataclass
class Participant:
    """One federation member: its chain identity and how it submits what it trains.

    ``steps``: the fractions of the way to its trained model it may submit (the one the rule
    pays best; ``(1.0,)``: the trained model as it is). ``submit_unpaid`` makes it submit even
    an update it knows the rule refuses (an attacker trying its luck); an honest participant
    saves the gas.
    """

    task_client: FederatedTaskClient
    store: Store
    circuit: zk.Circuit
    model_factory: Callable[[], nn.Module]
    steps: tuple[float, ...] = STEPS
    submit_unpaid: bool = False
    label: str = "participant"
    handled: set[tuple[int, int]] = field(default_factory=set, repr=False)  # (task, round) taken part in

    @property
    def address(self) -> str:
        return self.task_client.client.address

    def fetch_global_model(self, task_id: int, round_: int) -> dict:
        """The round's global model, verified against its on-chain commitment h_W."""
        commitment, cid = self.task_client.global_model(task_id, round_)
        state = decode_state(self.store.get(cid))
        if zk.weights_commitment(self.circuit, state) != commitment:
            raise GlobalModelMismatch(f"global model {cid} of round {round_} does not match {commitment}")
        return state

    def fetch_test_set(self, task_id: int) -> tuple[np.ndarray, np.ndarray]:
        manifest = fetch_manifest(self.task_client, self.store, task_id)
        ds = decode_chunk(self.store.get(manifest.test_set_cid))
        return ds.features, ds.labels

    def participate(self, task_id: int, train: TrainFn, clock: ChainClock | None = None) -> RoundOutcome | RoundSkipped:
        """Take part in the open round: commit now, then wait for the reveal phase (on
        ``clock``, by default the chain's own time) and reveal. Idempotent against chain state
        and this participant's earlier turns: a round is worked on once."""
        committed = self.commit_round(task_id, train)
        if isinstance(committed, PendingReveal):
            return self.reveal(committed, clock)
        return committed

    def commit_round(self, task_id: int, train: TrainFn) -> PendingReveal | RoundOutcome | RoundSkipped:
        """Commit phase: train (``train(global_state) -> state``), prove, encrypt, store and
        commit this participant's update.

        A ``PendingReveal`` when the commitment stands; a ``RoundOutcome`` when there is
        nothing to reveal (no proof, below θ, commitment refused); ``RoundSkipped`` when the
        round is not in its commit phase or this participant has already taken part in it.
        """
        task = self.task_client.get_task(task_id)
        if task.status != TaskStatus.ACTIVE:
            return RoundSkipped(task.round, SkipReason.task_closed)
        round_ = task.round
        phases = self.task_client.round_phases(task_id)
        now = chain_time(self.task_client.client)
        phase = phases.phase_at(now)
        skip = None
        if self.task_client.has_submitted(task_id, round_, self.address):
            skip = SkipReason.submitted
        elif (task_id, round_) in self.handled:
            skip = SkipReason.handled
        elif phase is not RoundPhase.commit:
            skip = SkipReason.commit_phase_over
        if skip is not None:
            return RoundSkipped(round_, skip, phase, phases.seconds_left(now))
        result = self._train_prove_commit(task_id, task, phases, train)
        # once only, even below θ; a failure that raised (the chain unreachable) may be retried
        self.handled.add((task_id, round_))
        return result

    def _train_prove_commit(self, task_id: int, task: TaskView, phases: RoundPhases,
                            train: TrainFn) -> PendingReveal | RoundOutcome:
        round_ = task.round
        global_state = self.fetch_global_model(task_id, round_)
        X_test, y_test = self.fetch_test_set(task_id)
        baseline = self.task_client.baseline_count(task_id, round_)
        trained = train({k: v.clone() for k, v in global_state.items()})
        step, update, _ = best_step(global_state, trained, self.steps,
                                    lambda s: certified_count(self.circuit, s, X_test, y_test))
        outcome = RoundOutcome(participant=self.address, round=round_, label=self.label, proven_correct=0,
                               threshold=task.threshold, baseline=baseline, step=step)
        try:
            proofs = zk.prove_certificate(self.circuit, update, X_test, y_test)
        except RuntimeError as exc:  # weights outside the circuit's ranges have no proof at all
            outcome.refusal = f"no proof: {exc}"
            return outcome
        outcome.proven_correct = correct = sum(p.correct for p in proofs)
        outcome.model_commitment = proofs[0].model_commitment
        expected = self.task_client.test_set_commitments(task_id)
        if [p.test_set_commitment for p in proofs] != expected:
            raise RuntimeError("the published test set does not match the task's commitments")
        terms = RewardTerms(task.samples, task.threshold, task.min_improvement, task.reward_per_update)
        if improvement_reward(correct, baseline, terms) == 0 and not self.submit_unpaid:
            outcome.refusal = "unpaid: below θ or the margin over the global model"
            return outcome  # the contract would refuse it: no upload, no gas
        envelope = encrypt_update(task.encryption_key, encode_state(update),
                                  update_aad(task_id, round_, self.address))
        outcome.cid = self.store.put(envelope)
        outcome.uploaded.append(outcome.cid)
        outcome.submitted = True
        commitment = update_commitment(task_id, round_, self.address, outcome.model_commitment, outcome.cid)
        try:
            # committed in this identity's name while reveals are not taken: whoever copies
            # the reveal later has no commitment to open, and can no longer make one
            outcome.commit_gas_used = self.task_client.commit_update(task_id, round_, commitment).gas_used
        except ContractError as exc:  # e.g. CommitPhaseClosed: the work outlasted the phase
            outcome.refusal = exc.name
            return outcome
        return PendingReveal(task_id, phases, [p.proof for p in proofs], [p.instances for p in proofs], outcome)

    def reveal(self, pending: PendingReveal, clock: ChainClock | None = None) -> RoundOutcome:
        """Reveal phase: wait for it on ``clock`` (default: the chain's own time), then submit.

        A reveal the chain still finds early (``RevealPhaseNotOpen``: a clock ahead of the
        block that ran it) is retried once chain time has reached the reveal phase.
        """
        clock = clock or LiveChainClock(self.task_client.client)
        outcome = pending.outcome
        opens = pending.phases.commit_end
        for attempt in range(REVEAL_ATTEMPTS):
            clock.wait_until(opens)
            try:
                receipt = self.task_client.submit_update(pending.task_id, outcome.round, pending.proofs,
                                                         pending.instances, outcome.cid)
            except ContractError as exc:
                refusal = PhaseRefusal.from_error(exc)
                if refusal is None or refusal.error != "RevealPhaseNotOpen" or attempt + 1 == REVEAL_ATTEMPTS:
                    outcome.refusal = exc.name
                    return outcome
                outcome.reveal_retries.append(exc.name)
                opens = refusal.boundary
                continue
            outcome.accepted = True
            outcome.gas_used = receipt.gas_used
            outcome.reward = int(receipt.event("UpdateAccepted")["reward"])
            return outcome
        raise AssertionError("unreachable")
