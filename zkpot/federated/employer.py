"""The employer's side of a federated task.

Create the task (test set stored and committed, initial global model committed, escrow, the
rounds' commit and reveal windows), then per round, once its reveal phase is over: read the
accepted updates from the chain's events, decrypt each, check that it hashes to the commitment
its proof proved (a mismatch is rejected, never aggregated), leave out near-copies of the
global model or of another update, aggregate the rest by FedAvg weighted by certified count,
prove the new global model's count (the next round's baseline), store it and close the round
with its commitment, CID and proofs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from zkpot import zk
from zkpot.certified import CertificationError
from zkpot.chain.clock import chain_time
from zkpot.datasets import Dataset, encode_chunk
from zkpot.federated.chain import AcceptedUpdate, FederatedTaskClient, TaskParams, TaskStatus
from zkpot.federated.certificates import COUNT_TOLERANCE, certified_count
from zkpot.federated.crypto import DecryptionError, EncryptionKeyPair, decrypt_update, update_aad
from zkpot.federated.duplicates import near_duplicates
from zkpot.federated.fedavg import fedavg
from zkpot.federated.manifest import TaskManifest
from zkpot.federated.phases import COMMIT_WINDOW_S, REVEAL_WINDOW_S, RoundNotOver, RoundPhase
from zkpot.federated.updates import UpdateFormatError, decode_state, encode_state
from zkpot.spec import ModelSpec
from zkpot.storage import Store, StorageError


class TaskNotActive(RuntimeError):
    """The task is completed or refunded: it has no open round."""


@dataclass
class ReviewedUpdate:
    """An accepted update after the employer's off-chain check."""

    accepted: AcceptedUpdate
    state: dict[str, torch.Tensor] | None
    rejection: str | None = None  # why it is not aggregated, None when it is

    @property
    def usable(self) -> bool:
        return self.rejection is None


@dataclass
class RoundResult:
    round: int
    reviewed: list[ReviewedUpdate] = field(default_factory=list)
    model_commitment: int = 0
    model_cid: str = ""
    model_correct: int = 0  # the new global model's certified count (the next baseline)
    state: dict[str, torch.Tensor] | None = field(default=None, repr=False)  # the new global model
    # the aggregate's certified count when it proved less than the round's global model, which
    # is then kept (the contract refuses a falling baseline: GlobalModelRegressed); else None
    regressed: int | None = None

    @property
    def aggregated(self) -> list[ReviewedUpdate]:
        return [r for r in self.reviewed if r.usable]

    @property
    def rejected(self) -> list[ReviewedUpdate]:
        return [r for r in self.reviewed if not r.usable]


@dataclass
class Employer:
    """The task owner: its chain identity, its decryption key and the task's circuit."""

    task_client: FederatedTaskClient
    store: Store
    circuit: zk.Circuit
    model_factory: Callable[[], nn.Module]
    keys: EncryptionKeyPair

    def publish_model(self, state: dict[str, torch.Tensor]) -> tuple[int, str]:
        """Store a global model; return its commitment h_W and CID."""
        return zk.weights_commitment(self.circuit, state), self.store.put(encode_state(state))

    def create_task(self, spec: ModelSpec, test_set: Dataset, *, threshold: int, rounds: int, max_updates_per_round: int,
                    reward_per_update: int, deadline: int, verifier: str,
                    initial_state: dict[str, torch.Tensor] | None = None,
                    commit_window: int = COMMIT_WINDOW_S, reveal_window: int = REVEAL_WINDOW_S,
                    min_improvement: int = 1, certify_initial: bool = True) -> int:
        """Store and commit the test set (whole shards of the circuit's N) and open round 0,
        whose commit phase starts now (``deadline`` is in chain time). ``certify_initial``
        proves the initial model's count (else it counts 0 and round 0 pays every sample)."""
        commitments = zk.test_set_commitments(self.circuit, test_set.features, test_set.labels)
        state = initial_state if initial_state is not None else self.model_factory().state_dict()
        commitment, cid = self.publish_model(state)
        proofs = (zk.prove_certificate(self.circuit, state, test_set.features, test_set.labels)
                  if certify_initial else [])
        manifest = TaskManifest(spec=spec, input_shape=self.circuit.input_shape,
                                num_classes=self.circuit.num_classes, shard_size=self.circuit.n,
                                test_set_cid=self.store.put(encode_chunk(test_set)), params=self.circuit.params)
        return self.task_client.create_task(TaskParams(
            verifier=verifier, test_set_commitments=commitments,
            manifest_cid=self.store.put(manifest.encode()), samples=len(test_set),
            threshold=threshold, rounds=rounds, max_updates_per_round=max_updates_per_round,
            reward_per_update=reward_per_update, encryption_key=self.keys.public,
            initial_model_commitment=commitment, initial_model_cid=cid, deadline=deadline,
            commit_window=commit_window, reveal_window=reveal_window, min_improvement=min_improvement,
            initial_model_proofs=[p.proof for p in proofs], initial_model_instances=[p.instances for p in proofs]))

    def review(self, task_id: int, round_: int, from_block: int = 0) -> list[ReviewedUpdate]:
        """Every accepted update of the round, decrypted and checked against its commitment;
        near-copies of the global model or of an earlier update are left out."""
        shapes = {k: tuple(v.shape) for k, v in self.model_factory().state_dict().items()}
        reviewed = [self._check(task_id, acc, shapes)
                    for acc in self.task_client.accepted_updates(task_id, round_, from_block)]
        usable = [r for r in reviewed if r.usable]
        verdicts = near_duplicates(self.global_state(task_id, round_), [r.state for r in usable])
        for r, twin in zip(usable, verdicts):
            if twin is not None:
                r.rejection = ("near-copy of the global model" if twin < 0
                               else f"near-copy of {usable[twin].accepted.participant}'s update")
        return reviewed

    def _check(self, task_id: int, acc: AcceptedUpdate, shapes: dict) -> ReviewedUpdate:
        try:
            envelope = self.store.get(acc.cid)
            plain = decrypt_update(self.keys, envelope, update_aad(task_id, acc.round, acc.participant))
            state = decode_state(plain)
        except (KeyError, ValueError, StorageError, DecryptionError, UpdateFormatError) as exc:
            return ReviewedUpdate(acc, None, f"unreadable: {exc}")
        if {k: tuple(v.shape) for k, v in state.items()} != shapes:
            return ReviewedUpdate(acc, None, "not this task's architecture")
        # the task's order, whatever the participant's (found by an attack: reversed keys passed
        # the near-copy check, which flattens in the update's order, and then failed fedavg)
        state = {k: state[k] for k in shapes}
        if not all(torch.isfinite(v).all() for v in state.values()):
            return ReviewedUpdate(acc, None, "non-finite weights")
        X, y = self.test_set(task_id)
        try:
            if zk.weights_commitment(self.circuit, state) != acc.model_commitment:
                # the encrypted weights are not the ones the proof is about
                return ReviewedUpdate(acc, None, "commitment mismatch")
            count = certified_count(self.circuit, state, X, y)
        except CertificationError as exc:            # weights the circuit cannot hold
            return ReviewedUpdate(acc, None, f"not certifiable: {exc}")
        if abs(count - acc.correct_count) > COUNT_TOLERANCE:
            # the certificate counts what the reference does not (a statement that counts ties
            # pays a constant model in full): kept out of the aggregate
            return ReviewedUpdate(acc, state, "certified count disagrees with the reference count")
        return ReviewedUpdate(acc, state)

    def close_round(self, task_id: int, from_block: int = 0) -> RoundResult:
        """Aggregate the open round's checked updates and publish the next global model -- or
        keep the round's own when the aggregate proves fewer (``RoundResult.regressed``).

        Only once the round's reveal phase is over (``RoundNotOver`` before, with the time
        left, and before any work): every committed update has had its whole phase to land.
        """
        task = self.task_client.get_task(task_id)
        if task.status != TaskStatus.ACTIVE:
            raise TaskNotActive(f"task {task_id} is {task.status.name.lower()}: no round to close")
        round_ = task.round
        phases = self.task_client.round_phases(task_id)
        now = chain_time(self.task_client.client)
        if phases.phase_at(now) is not RoundPhase.over:
            raise RoundNotOver(round_, phases.reveal_end, now)
        result = RoundResult(round=round_, reviewed=self.review(task_id, round_, from_block))
        usable = result.aggregated
        proofs, carried = [], True
        if usable:
            state = fedavg([r.state for r in usable], [r.accepted.correct_count for r in usable])
            X, y = self.test_set(task_id)
            # the next round's baseline: the contract takes the count these proofs prove
            proofs = zk.prove_certificate(self.circuit, state, X, y)
            correct = sum(p.correct for p in proofs)
            if correct < self.task_client.baseline_count(task_id, round_):
                result.regressed, proofs = correct, []     # worse than the round's model: kept
            else:
                result.model_commitment, result.model_cid = self.publish_model(state)
                result.model_correct, carried = correct, False
        if carried:  # nothing usable, or no better: the global model carries over with its count
            result.model_commitment, result.model_cid = self.task_client.global_model(task_id, round_)
            state = self.global_state(task_id, round_)
            result.model_correct = self.task_client.baseline_count(task_id, round_)
        result.state = state
        self.task_client.close_round(task_id, round_, result.model_commitment, result.model_cid,
                                     [p.proof for p in proofs], [p.instances for p in proofs])
        return result

    def test_set(self, task_id: int) -> tuple[np.ndarray, np.ndarray]:
        """The task's public test set, from its manifest."""
        from zkpot.datasets import decode_chunk

        manifest = TaskManifest.decode(self.store.get(self.task_client.manifest_cid(task_id)))
        ds = decode_chunk(self.store.get(manifest.test_set_cid))
        return ds.features, ds.labels

    def global_state(self, task_id: int, round_: int) -> dict[str, torch.Tensor]:
        return decode_state(self.store.get(self.task_client.global_model(task_id, round_)[1]))


def accuracy(model_factory: Callable[[], nn.Module], state: dict[str, torch.Tensor],
             X: np.ndarray, y: np.ndarray) -> float:
    """Float accuracy of ``state`` on (X, y)."""
    from zkpot.federated.local import count_correct

    return count_correct(model_factory, state, X, y) / len(y)
