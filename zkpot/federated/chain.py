"""Typed wrapper of the FederatedTask contract, over the one transaction path (ChainClient).

No torch here: the participant and employer logic hand it bytes and integers. Every
transaction whose acceptance depends on the round's phase is estimated for the pending block
(the time it will run at); on Anvil the latest block's time stands still while nothing is
mined.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Sequence

from web3 import Web3

from zkpot.chain.client import ChainClient, Receipt
from zkpot.chain.errors import ContractError
from zkpot.chain.events import ChainEvent, fetch_events
from zkpot.chain.deployment import Deployment
from zkpot.federated.phases import COMMIT_WINDOW_S, REVEAL_WINDOW_S, RoundPhases

CONTRACT = "FederatedTask"
# the contract's refusals by phase, each carrying (taskId, round, the phase boundary)
PHASE_ERRORS = ("CommitPhaseClosed", "RevealPhaseNotOpen", "RevealPhaseClosed", "RoundNotOver")


class TaskStatus(IntEnum):
    NONE = 0
    ACTIVE = 1
    COMPLETED = 2
    REFUNDED = 3


@dataclass(frozen=True)
class PhaseRefusal:
    """A transaction refused for the round's phase, decoded: which boundary it missed."""

    error: str      # one of PHASE_ERRORS
    task_id: int
    round: int
    boundary: int   # chain time: commit end, reveal start (= commit end) or reveal end

    @classmethod
    def from_error(cls, exc: ContractError) -> "PhaseRefusal | None":
        """The refusal in ``exc`` when it is one of the phase errors, else None."""
        if exc.name not in PHASE_ERRORS or len(exc.error_args) != 3:
            return None
        task_id, round_, boundary = exc.error_args
        return cls(exc.name, int(task_id), int(round_), int(boundary))


@dataclass(frozen=True)
class TaskParams:
    """What ``create_task`` escrows; ``escrow`` is the exact value to send.

    Each round has a commit phase of ``commit_window`` seconds, then a reveal phase of
    ``reveal_window`` seconds (defaults in ``zkpot.federated.phases``: an hour to train and
    prove, ten minutes to reveal). The deadline must leave room for one whole round. An update
    must gain ``min_improvement`` samples over the round's certified global model; the initial
    model's proofs certify its count (none: it counts 0).
    """

    verifier: str
    test_set_commitments: Sequence[bytes]
    manifest_cid: str
    samples: int
    threshold: int
    rounds: int
    max_updates_per_round: int
    reward_per_update: int
    encryption_key: bytes
    initial_model_commitment: int
    initial_model_cid: str
    deadline: int
    commit_window: int = COMMIT_WINDOW_S
    reveal_window: int = REVEAL_WINDOW_S
    min_improvement: int = 1
    initial_model_proofs: Sequence[bytes] = ()
    initial_model_instances: Sequence[Sequence[int]] = ()

    @property
    def escrow(self) -> int:
        return self.rounds * self.max_updates_per_round * self.reward_per_update

    def as_tuple(self) -> tuple:
        return (Web3.to_checksum_address(self.verifier), [bytes(c) for c in self.test_set_commitments],
                self.manifest_cid, self.samples, self.threshold, self.rounds, self.max_updates_per_round,
                self.reward_per_update, bytes(self.encryption_key), self.initial_model_commitment,
                self.initial_model_cid, self.deadline, self.commit_window, self.reveal_window,
                self.min_improvement, [bytes(p) for p in self.initial_model_proofs],
                [list(map(int, i)) for i in self.initial_model_instances])


@dataclass(frozen=True)
class TaskView:
    employer: str
    status: TaskStatus
    rounds: int
    round: int
    max_updates_per_round: int
    deadline: int
    round_start: int      # chain time the open round's commit phase began
    commit_window: int
    reveal_window: int
    min_improvement: int
    verifier: str
    encryption_key: bytes
    samples: int
    threshold: int
    reward_per_update: int
    escrow: int


@dataclass(frozen=True)
class AcceptedUpdate:
    """An ``UpdateAccepted`` event: what the contract checked and paid for."""

    task_id: int
    round: int
    participant: str
    model_commitment: int
    correct_count: int
    reward: int
    cid: str
    block_number: int
    tx_hash: str

    @classmethod
    def from_event(cls, ev: ChainEvent) -> "AcceptedUpdate":
        return cls(task_id=ev["taskId"], round=ev["round"], participant=ev["participant"],
                   model_commitment=ev["modelCommitment"], correct_count=ev["correctCount"],
                   reward=ev["reward"], cid=ev["encryptedUpdateCid"], block_number=ev.block_number,
                   tx_hash=ev.tx_hash)


@dataclass(frozen=True)
class CommittedUpdate:
    """An ``UpdateCommitted`` event: a participant bound itself to an update it will reveal."""

    task_id: int
    round: int
    participant: str
    commitment: bytes
    block_number: int

    @classmethod
    def from_event(cls, ev: ChainEvent) -> "CommittedUpdate":
        return cls(task_id=ev["taskId"], round=ev["round"], participant=ev["participant"],
                   commitment=bytes(ev["commitment"]), block_number=ev.block_number)


class FederatedTaskClient:
    """One method per external function of FederatedTask; views as dataclasses."""

    def __init__(self, client: ChainClient, address: str):
        self.client = client
        self.address = Web3.to_checksum_address(address)
        self._fn = client.contract(CONTRACT, self.address).functions

    @classmethod
    def deploy(cls, client: ChainClient, deployment: Deployment | None = None) -> "FederatedTaskClient":
        """Deploy a FederatedTask; record it in ``deployment`` when given."""
        contract = client.deploy(CONTRACT)
        if deployment is not None:
            deployment.contracts[CONTRACT] = contract.address
        return cls(client, contract.address)

    @classmethod
    def from_deployment(cls, client: ChainClient, deployment: Deployment) -> "FederatedTaskClient":
        return cls(client, deployment.contracts[CONTRACT])

    # -- transactions ----------------------------------------------------------------------
    def create_task(self, params: TaskParams) -> int:
        receipt = self.client.transact(self._fn.createTask(params.as_tuple()), value=params.escrow)
        return receipt.event("TaskCreated")["taskId"]

    def commit_update(self, task_id: int, round_: int, commitment: bytes) -> Receipt:
        """Bind this identity to the update it will submit (``zkpot.federated.commitment``);
        in the round's commit phase only (``CommitPhaseClosed``)."""
        return self.client.transact(self._fn.commitUpdate(task_id, round_, bytes(commitment)),
                                    estimate_block="pending")

    def submit_update(self, task_id: int, round_: int, proofs: Sequence[bytes],
                      instances: Sequence[Sequence[int]], cid: str) -> Receipt:
        """Reveal the committed update, its proofs and CID; in the round's reveal phase only
        (``RevealPhaseNotOpen``, ``RevealPhaseClosed``)."""
        fn = self._fn.submitUpdate(task_id, round_, [bytes(p) for p in proofs],
                                   [list(map(int, i)) for i in instances], cid)
        return self.client.transact(fn, estimate_block="pending")

    def close_round(self, task_id: int, round_: int, model_commitment: int, model_cid: str,
                    proofs: Sequence[bytes] = (), instances: Sequence[Sequence[int]] = ()) -> Receipt:
        """Publish the next global model with the proofs of its count (none: the unchanged
        model keeps its count); after the round's reveal phase only (``RoundNotOver``)."""
        fn = self._fn.closeRound(task_id, round_, model_commitment, model_cid, [bytes(p) for p in proofs],
                                 [list(map(int, i)) for i in instances])
        return self.client.transact(fn, estimate_block="pending")

    def refund(self, task_id: int) -> Receipt:
        """After the deadline and the open round's reveal phase: the unearned escrow back."""
        return self.client.transact(self._fn.refund(task_id), estimate_block="pending")

    def withdraw(self) -> Receipt:
        return self.client.transact(self._fn.withdraw())

    # -- views -----------------------------------------------------------------------------
    def get_task(self, task_id: int) -> TaskView:
        raw = self.client.call(self._fn.getTask(task_id))
        return TaskView(employer=raw[0], status=TaskStatus(raw[1]), rounds=raw[2], round=raw[3],
                        max_updates_per_round=raw[4], deadline=raw[5], round_start=raw[6],
                        commit_window=raw[7], reveal_window=raw[8], min_improvement=raw[9],
                        verifier=raw[10], encryption_key=bytes(raw[11]), samples=raw[12],
                        threshold=raw[13], reward_per_update=raw[14], escrow=raw[15])

    def round_phases(self, task_id: int) -> RoundPhases:
        """The open round's phase boundaries in chain time (the contract's ``roundPhases``)."""
        start, commit_end, reveal_end = self.client.call(self._fn.roundPhases(task_id))
        return RoundPhases(int(start), int(commit_end), int(reveal_end))

    def test_set_commitments(self, task_id: int) -> list[bytes]:
        return [bytes(c) for c in self.client.call(self._fn.testSetCommitments(task_id))]

    def manifest_cid(self, task_id: int) -> str:
        return self.client.call(self._fn.manifestCid(task_id))

    def global_model(self, task_id: int, round_: int) -> tuple[int, str]:
        commitment, cid = self.client.call(self._fn.globalModel(task_id, round_))
        return int(commitment), cid

    def baseline_count(self, task_id: int, round_: int) -> int:
        """The certified count of round ``round_``'s global model: what its updates improve on."""
        return int(self.client.call(self._fn.baselineCount(task_id, round_)))

    def update_count(self, task_id: int, round_: int) -> int:
        return self.client.call(self._fn.updateCount(task_id, round_))

    def has_submitted(self, task_id: int, round_: int, participant: str) -> bool:
        return self.client.call(self._fn.hasSubmitted(task_id, round_, Web3.to_checksum_address(participant)))

    def committed_update(self, task_id: int, round_: int, participant: str) -> bytes:
        """The participant's unrevealed commitment of the round (32 zero bytes: none)."""
        return bytes(self.client.call(
            self._fn.committedUpdate(task_id, round_, Web3.to_checksum_address(participant))))

    def update_commitment(self, task_id: int, round_: int, participant: str, model_commitment: int,
                          cid: str) -> bytes:
        """The contract's own hash of an update's commitment (for checks; compute it locally)."""
        return bytes(self.client.call(self._fn.updateCommitment(
            task_id, round_, Web3.to_checksum_address(participant), model_commitment, cid)))

    def submitted_proofs(self, tx_hash: str) -> tuple[list[bytes], list[list[int]]]:
        """The proofs and instances a ``submitUpdate`` transaction carried (public calldata)."""
        tx = self.client.rpc(lambda: self.client.w3.eth.get_transaction(tx_hash))
        _, args = self.client.contract(CONTRACT, self.address).decode_function_input(tx["input"])
        return [bytes(p) for p in args["proofs"]], [list(i) for i in args["instances"]]

    def credit_of(self, account: str) -> int:
        return self.client.call(self._fn.creditOf(Web3.to_checksum_address(account)))

    def accepted_updates(self, task_id: int, round_: int, from_block: int = 0) -> list[AcceptedUpdate]:
        """The round's accepted updates, from the chain's events, in chain order."""
        events = self._round_events("UpdateAccepted", task_id, round_, from_block)
        return [AcceptedUpdate.from_event(ev) for ev in events]

    def unrevealed_commitments(self, task_id: int, round_: int, from_block: int = 0) -> list[CommittedUpdate]:
        """The round's latest commitment per participant that has not submitted (yet): the
        reveals still due in the round's reveal phase (they lapse when it ends)."""
        latest = {ev["participant"]: CommittedUpdate.from_event(ev)
                  for ev in self._round_events("UpdateCommitted", task_id, round_, from_block)}
        # an accepted update is exactly a submitted one (hasSubmitted): one more event read
        # instead of a call per participant
        accepted = {u.participant for u in self.accepted_updates(task_id, round_, from_block)}
        return [c for who, c in latest.items() if who not in accepted]

    def _round_events(self, name: str, task_id: int, round_: int, from_block: int) -> list[ChainEvent]:
        only_me = Deployment(chain_id=self.client.chain_id, block=from_block, contracts={CONTRACT: self.address})
        events = fetch_events(self.client, only_me, from_block=from_block, names=[name])
        return [ev for ev in events if ev["taskId"] == task_id and ev["round"] == round_]
