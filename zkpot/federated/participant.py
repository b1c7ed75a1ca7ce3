"""The participant's side of a federated round.

Fetch the round's global model (checked against its on-chain commitment), train on private
data that never leaves this process, prove the update's accuracy on the task's public test
set, encrypt the update to the employer's key, store the envelope by CID, commit to the
update in this identity's name and submit it in a later block (a copied submission is then
worth nothing). What leaves the machine: the commitment, the proof (commitments and a
count), the envelope and its CID.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from torch import nn

from zkpot import zk
from zkpot.chain.errors import ContractError
from zkpot.datasets import decode_chunk
from zkpot.federated.chain import FederatedTaskClient, TaskStatus
from zkpot.federated.commitment import update_commitment
from zkpot.federated.crypto import encrypt_update, update_aad
from zkpot.federated.local import Behaviour, LocalTraining, make_update
from zkpot.federated.manifest import TaskManifest
from zkpot.federated.updates import decode_state, encode_state
from zkpot.storage import Store


def fetch_manifest(task_client: FederatedTaskClient, store: Store, task_id: int) -> TaskManifest:
    """The task's manifest (architecture, shard size, test set) from its on-chain CID."""
    return TaskManifest.decode(store.get(task_client.manifest_cid(task_id)))


def participant_for_task(task_client: FederatedTaskClient, store: Store, settings, task_id: int,
                         X: np.ndarray, y: np.ndarray, **options) -> "Participant":
    """A participant set up from the task's manifest: its model and (cached) circuit."""
    manifest = fetch_manifest(task_client, store, task_id)
    factory = manifest.model_factory()
    circuit = zk.ensure_circuit(factory(), manifest.input_shape, manifest.num_classes,
                                manifest.shard_size, settings)
    return Participant(task_client, store, circuit, factory, X, y, **options)


class GlobalModelMismatch(RuntimeError):
    """The stored global model does not hash to the commitment the employer published."""


@dataclass
class RoundOutcome:
    """What happened to one participant's update in one round."""

    participant: str
    round: int
    behaviour: Behaviour
    proven_correct: int
    threshold: int
    submitted: bool
    accepted: bool
    model_commitment: int
    cid: str | None = None
    refusal: str | None = None  # why it was not accepted: the contract's error name, or no proof
    gas_used: int | None = None  # of the accepted submitUpdate
    commit_gas_used: int | None = None  # of its commitUpdate
    uploaded: list[str] = field(default_factory=list)  # CIDs this participant stored


@dataclass
class Participant:
    """One federation member: its chain identity, its private data and how it behaves.

    ``submit_below_threshold`` makes it submit even an update it knows is below θ (an
    attacker trying its luck); an honest participant saves the gas.
    """

    task_client: FederatedTaskClient
    store: Store
    circuit: zk.Circuit
    model_factory: Callable[[], nn.Module]
    X: np.ndarray
    y: np.ndarray
    behaviour: Behaviour = Behaviour.honest
    training: LocalTraining = field(default_factory=LocalTraining)
    submit_below_threshold: bool = False

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

    def participate(self, task_id: int) -> RoundOutcome | None:
        """Run the open round unless this participant already submitted in it (idempotent)."""
        task = self.task_client.get_task(task_id)
        if task.status != TaskStatus.ACTIVE or self.task_client.has_submitted(task_id, task.round, self.address):
            return None
        return self.run_round(task_id)

    def run_round(self, task_id: int) -> RoundOutcome:
        """Train, prove, encrypt, store, commit and submit this participant's update for the open round."""
        task = self.task_client.get_task(task_id)
        if task.status != TaskStatus.ACTIVE:
            raise RuntimeError(f"task {task_id} is not active ({task.status.name})")
        round_ = task.round
        global_state = self.fetch_global_model(task_id, round_)
        X_test, y_test = self.fetch_test_set(task_id)
        training = LocalTraining(self.training.epochs, self.training.lr, self.training.batch_size,
                                 seed=self.training.seed + 1000 * round_)
        update = make_update(self.behaviour, self.model_factory, global_state, self.X, self.y,
                             self.circuit.num_classes, training)
        try:
            proofs = zk.prove_certificate(self.circuit, update, X_test, y_test)
        except RuntimeError as exc:  # weights outside the circuit's ranges have no proof at all
            return RoundOutcome(participant=self.address, round=round_, behaviour=self.behaviour,
                                proven_correct=0, threshold=task.threshold, submitted=False,
                                accepted=False, model_commitment=0, refusal=f"no proof: {exc}")
        correct = sum(p.correct for p in proofs)
        outcome = RoundOutcome(participant=self.address, round=round_, behaviour=self.behaviour,
                               proven_correct=correct, threshold=task.threshold, submitted=False,
                               accepted=False, model_commitment=proofs[0].model_commitment)
        expected = self.task_client.test_set_commitments(task_id)
        if [p.test_set_commitment for p in proofs] != expected:
            raise RuntimeError("the published test set does not match the task's commitments")
        if correct < task.threshold and not self.submit_below_threshold:
            return outcome  # cannot be accepted: no upload, no gas
        envelope = encrypt_update(task.encryption_key, encode_state(update),
                                  update_aad(task_id, round_, self.address))
        outcome.cid = self.store.put(envelope)
        outcome.uploaded.append(outcome.cid)
        outcome.submitted = True
        commitment = update_commitment(task_id, round_, self.address, outcome.model_commitment, outcome.cid)
        try:
            # committed in this identity's name a block ahead: whoever copies the submission
            # from the mempool has no commitment to open, so the copy earns nothing
            outcome.commit_gas_used = self.task_client.commit_update(task_id, round_, commitment).gas_used
            receipt = self.task_client.submit_update(task_id, round_, [p.proof for p in proofs],
                                                     [p.instances for p in proofs], outcome.cid)
        except ContractError as exc:
            outcome.refusal = exc.name
            return outcome
        outcome.accepted = True
        outcome.gas_used = receipt.gas_used
        return outcome
