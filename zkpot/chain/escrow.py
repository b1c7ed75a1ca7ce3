"""Typed wrapper of the JobEscrow contract: one method per external function, views as dataclasses."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Sequence

from web3 import Web3

from zkpot.chain.client import ChainClient, Receipt
from zkpot.chain.events import ChainEvent


class JobStatus(IntEnum):
    NONE = 0
    TRAINING = 1
    AWAITING_TEST_SET = 2
    PROVING = 3
    COMPLETED = 4
    CLOSED = 5


@dataclass(frozen=True)
class JobParams:
    """What ``create_job`` escrows; ``escrow`` is the exact value to send."""

    manifest_hash: bytes
    manifest_cid: str
    stages: int
    confirmations: int
    reward: int
    bounty: int
    threshold: int
    samples: int
    shard_commitments: Sequence[bytes]
    verifier: str
    deadline: int
    test_set_window: int = 24 * 3600
    proof_window: int = 24 * 3600

    @property
    def escrow(self) -> int:
        return self.stages * self.confirmations * self.reward + self.bounty

    def as_tuple(self) -> tuple:
        return (self.manifest_hash, self.manifest_cid, self.stages, self.confirmations, self.reward,
                self.bounty, self.threshold, self.samples, list(self.shard_commitments),
                Web3.to_checksum_address(self.verifier), self.deadline, self.test_set_window,
                self.proof_window)


@dataclass(frozen=True)
class JobView:
    employer: str
    status: JobStatus
    manifest_hash: bytes
    stages: int
    stages_done: int
    confirmations: int
    declarations: int
    reward: int
    bounty: int
    remaining: int
    threshold: int
    samples: int
    shard_count: int
    shards_proven: int
    correct_count: int
    verifier: str
    deadline: int
    test_set_window: int
    proof_window: int
    phase_deadline: int
    final_model_commitment: int
    finalists: int

    @property
    def open_stage(self) -> int | None:
        """The stage that takes declarations now, None once training is over."""
        return self.stages_done + 1 if self.status == JobStatus.TRAINING else None


@dataclass(frozen=True)
class Declaration:
    """One declaration as published in ``StageDeclared`` (what ``reveal`` needs)."""

    node: str
    weights_hash: bytes
    model_commitment: int
    commitment: bytes
    rand: bytes

    def as_tuple(self) -> tuple:
        return (Web3.to_checksum_address(self.node), self.weights_hash, self.model_commitment,
                self.commitment, self.rand)

    @classmethod
    def from_event(cls, event: ChainEvent) -> "Declaration":
        a = event.args
        return cls(a["node"], a["weightsHash"], a["modelCommitment"], a["commitment"], a["rand"])


@dataclass(frozen=True)
class DeclarationView:
    """A node's latest declaration in a job, as the contract records it."""

    stage: int  # 0: none
    record_hash: bytes
    finalist: bool


@dataclass(frozen=True)
class StageView:
    """A stage as the chain shows it: open with its declarations, or final with its result."""

    stage: int
    final: bool
    declarations: list[Declaration] = field(default_factory=list)
    weights_hash: bytes | None = None
    model_commitment: int | None = None
    cid: str | None = None
    rho: bytes | None = None
    revealer: str | None = None


class JobEscrowClient:
    """Calls into one JobEscrow through a ``ChainClient`` (signing as that client's key)."""

    def __init__(self, client: ChainClient, address: str):
        self.client = client
        self.address = Web3.to_checksum_address(address)
        self.contract = client.contract("JobEscrow", self.address)
        self._fn = self.contract.functions

    # -- transactions ----------------------------------------------------------------------
    def create_job(self, params: JobParams) -> int:
        """Escrow a job (sends exactly ``params.escrow``); returns its id."""
        return self.create_job_receipt(params).event("JobCreated")["jobId"]

    def create_job_receipt(self, params: JobParams) -> Receipt:
        return self.client.transact(self._fn.createJob(params.as_tuple()), value=params.escrow)

    def declare(self, job_id: int, stage: int, weights_hash: bytes, model_commitment: int,
                commitment: bytes, rand: bytes) -> Receipt:
        return self.client.transact(
            self._fn.declare(job_id, stage, weights_hash, model_commitment, commitment, rand))

    def reveal(self, job_id: int, stage: int, rho: bytes, cid: str,
               declarations: Sequence[Declaration]) -> Receipt:
        """Reveal ``rho``; ``declarations`` are all of the stage's (ordered here by node)."""
        ordered = sorted(declarations, key=lambda d: int(d.node, 16))
        return self.client.transact(
            self._fn.reveal(job_id, stage, rho, cid, [d.as_tuple() for d in ordered]))

    def publish_test_set(self, job_id: int, cid: str) -> Receipt:
        return self.client.transact(self._fn.publishTestSet(job_id, cid))

    def submit_accuracy_proof(self, job_id: int, shard: int, proof: bytes, instances: Sequence[int]) -> Receipt:
        return self.client.transact(self._fn.submitAccuracyProof(job_id, shard, proof, list(instances)))

    def forfeit_bounty(self, job_id: int, finalists: Sequence[str]) -> Receipt:
        ordered = sorted((Web3.to_checksum_address(a) for a in finalists), key=lambda a: int(a, 16))
        return self.client.transact(self._fn.forfeitBounty(job_id, ordered))

    def reclaim(self, job_id: int) -> Receipt:
        return self.client.transact(self._fn.reclaim(job_id))

    def withdraw(self) -> Receipt:
        return self.client.transact(self._fn.withdraw())

    # -- views -----------------------------------------------------------------------------
    def get_job(self, job_id: int) -> JobView:
        raw = self.client.call(self._fn.getJob(job_id))
        values = list(raw)
        values[1] = JobStatus(values[1])
        return JobView(*values)

    def job_count(self) -> int:
        return self.client.call(self._fn.jobCount())

    def declaration_of(self, job_id: int, node: str) -> DeclarationView:
        stage, record, finalist = self.client.call(self._fn.declarationOf(job_id, Web3.to_checksum_address(node)))
        return DeclarationView(stage, bytes(record), finalist)

    def agreement_of(self, job_id: int, stage: int, weights_hash: bytes, model_commitment: int) -> int:
        return self.client.call(self._fn.agreementOf(job_id, stage, weights_hash, model_commitment))

    def shard_commitments(self, job_id: int) -> list[bytes]:
        return [bytes(c) for c in self.client.call(self._fn.shardCommitments(job_id))]

    def shard_submitter(self, job_id: int, shard: int) -> str:
        return self.client.call(self._fn.shardSubmitter(job_id, shard))

    def commitment_of(self, rho: bytes, rand: bytes, node: str) -> bytes:
        return bytes(self.client.call(self._fn.commitmentOf(rho, rand, Web3.to_checksum_address(node))))

    def credit_of(self, account: str) -> int:
        return self.client.call(self._fn.creditOf(Web3.to_checksum_address(account)))

    def total_withdrawn(self) -> int:
        return self.client.call(self._fn.totalWithdrawn())

    def total_escrowed(self) -> int:
        return self.client.call(self._fn.totalEscrowed())

    def registry_address(self) -> str:
        return self.client.call(self._fn.registry())

    def stage_view(self, job_id: int, stage: int, events: Sequence[ChainEvent]) -> StageView:
        """A stage rebuilt from events (``fetch_events`` output): its declarations and result."""
        declarations = [Declaration.from_event(e) for e in events
                        if e.name == "StageDeclared" and e["jobId"] == job_id and e["stage"] == stage]
        for e in events:
            if e.name == "StageFinalised" and e["jobId"] == job_id and e["stage"] == stage:
                return StageView(stage, True, declarations, e["weightsHash"], e["modelCommitment"],
                                 e["cid"], e["rho"], e["revealer"])
        return StageView(stage, False, declarations)
