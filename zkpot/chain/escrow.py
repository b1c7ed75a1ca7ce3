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
    FAILED = 5
    FORFEITED = 6
    RECLAIMED = 7

    @property
    def ended(self) -> bool:
        return self >= JobStatus.COMPLETED


class StagePhase(IntEnum):
    NONE = 0        # no stage open (the job is not training)
    COMMIT = 1
    REVEAL = 2
    ENDED = 3       # the attempt ended without agreement: the next declaration starts another


class SlashReason(IntEnum):
    UNOPENED = 0
    OUTVOTED = 1


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
    shard_data_hashes: Sequence[bytes]
    verifier: str
    deadline: int
    commit_window: int = 10 * 60
    reveal_window: int = 10 * 60
    test_set_window: int = 24 * 3600
    proof_window: int = 24 * 3600

    @property
    def escrow(self) -> int:
        from zkpot.escrow_terms import escrow_of

        return escrow_of(self.stages, self.confirmations, self.reward, self.bounty)

    def as_tuple(self) -> tuple:
        return (self.manifest_hash, self.manifest_cid, self.stages, self.confirmations, self.reward,
                self.bounty, self.threshold, self.samples, [bytes(c) for c in self.shard_commitments],
                [bytes(h) for h in self.shard_data_hashes], Web3.to_checksum_address(self.verifier),
                self.deadline, self.commit_window, self.reveal_window, self.test_set_window,
                self.proof_window)


@dataclass(frozen=True)
class JobView:
    employer: str
    status: JobStatus
    manifest_hash: bytes
    stages: int
    stages_done: int
    confirmations: int
    reward: int
    bounty: int
    remaining: int
    owed: int
    threshold: int
    samples: int
    shard_count: int
    shards_published: int
    shards_proven: int
    correct_count: int
    verifier: str
    deadline: int
    commit_window: int
    reveal_window: int
    test_set_window: int
    proof_window: int
    phase_deadline: int
    final_model_commitment: int

    @property
    def open_stage(self) -> int | None:
        """The stage that takes declarations now, None once training is over."""
        return self.stages_done + 1 if self.status == JobStatus.TRAINING else None


@dataclass(frozen=True)
class AttemptView:
    """The open stage's current attempt (``attemptOf``)."""

    stage: int
    attempt: int
    phase: StagePhase
    declarations: int
    max_declarations: int
    start: int
    commit_deadline: int
    reveal_deadline: int
    lead_openings: int


@dataclass(frozen=True)
class Opening:
    """What a declarer opens in the reveal phase (``IJobEscrow.Opening``)."""

    rho: bytes
    weights_hash: bytes
    model_commitment: int
    rand: bytes
    cid: str

    def as_tuple(self) -> tuple:
        return (bytes(self.rho), bytes(self.weights_hash), int(self.model_commitment), bytes(self.rand),
                self.cid)


@dataclass(frozen=True)
class DeclarationView:
    """A node's latest declaration in a job, as the contract records it."""

    stage: int  # 0: none
    attempt: int
    hash: bytes  # 24 bytes: the commitment until opened, then the opened values' key
    position: int  # 0: not opened
    settled: bool
    bounty_settled: bool


@dataclass(frozen=True)
class StageResult:
    """A final stage: its agreed attempt, key (24 bytes) and the end of that reveal phase."""

    attempt: int
    key: bytes
    reveal_deadline: int


@dataclass(frozen=True)
class Revealed:
    """A ``StageRevealed`` event."""

    node: str
    attempt: int
    weights_hash: bytes
    model_commitment: int
    rho: bytes
    cid_hash: bytes     # keccak256 of the CID given (the agreed CID is in StageFinalised)
    position: int

    @classmethod
    def from_event(cls, ev: ChainEvent) -> "Revealed":
        a = ev.args
        return cls(a["node"], a["attempt"], bytes(a["weightsHash"]), a["modelCommitment"], bytes(a["rho"]),
                   bytes(a["cidHash"]), a["position"])


@dataclass(frozen=True)
class StageView:
    """A stage rebuilt from events: its declarations and openings, and its result once final."""

    stage: int
    final: bool
    declared: list[tuple[str, int]] = field(default_factory=list)   # (node, attempt)
    revealed: list[Revealed] = field(default_factory=list)
    weights_hash: bytes | None = None
    model_commitment: int | None = None
    cid: str | None = None
    rho: bytes | None = None
    finaliser: str | None = None
    attempt: int | None = None


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

    def declare(self, job_id: int, stage: int, commitment: bytes) -> Receipt:
        return self.client.transact(self._fn.declare(job_id, stage, bytes(commitment)))

    def reveal(self, job_id: int, stage: int, opening: Opening) -> Receipt:
        return self.client.transact(self._fn.reveal(job_id, stage, opening.as_tuple()))

    def settle(self, job_id: int, node: str) -> Receipt:
        return self.client.transact(self._fn.settle(job_id, Web3.to_checksum_address(node)))

    def publish_test_shard(self, job_id: int, shard: int, data: bytes) -> Receipt:
        return self.client.transact(self._fn.publishTestShard(job_id, shard, bytes(data)))

    def submit_accuracy_proof(self, job_id: int, shard: int, proof: bytes, instances: Sequence[int]) -> Receipt:
        return self.client.transact(self._fn.submitAccuracyProof(job_id, shard, proof, list(instances)))

    def forfeit_bounty(self, job_id: int) -> Receipt:
        return self.client.transact(self._fn.forfeitBounty(job_id))

    def reclaim(self, job_id: int) -> Receipt:
        return self.client.transact(self._fn.reclaim(job_id))

    def withdraw(self) -> Receipt:
        return self.client.transact(self._fn.withdraw())

    # -- views -----------------------------------------------------------------------------
    def get_job(self, job_id: int) -> JobView:
        values = list(self.client.call(self._fn.getJob(job_id)))
        values[1] = JobStatus(values[1])
        values[2] = bytes(values[2])
        return JobView(*values)

    def attempt_of(self, job_id: int) -> AttemptView:
        values = list(self.client.call(self._fn.attemptOf(job_id)))
        values[2] = StagePhase(values[2])
        return AttemptView(*values)

    def job_count(self) -> int:
        return self.client.call(self._fn.jobCount())

    def declaration_of(self, job_id: int, node: str) -> DeclarationView:
        v = self.client.call(self._fn.declarationOf(job_id, Web3.to_checksum_address(node)))
        return DeclarationView(v[0], v[1], bytes(v[2]), v[3], v[4], v[5])

    def stage_result(self, job_id: int, stage: int) -> StageResult:
        attempt, key, deadline = self.client.call(self._fn.stageResult(job_id, stage))
        return StageResult(attempt, bytes(key), deadline)

    def shard_commitments(self, job_id: int) -> list[bytes]:
        return [bytes(c) for c in self.client.call(self._fn.shardCommitments(job_id))]

    def shard_data_hashes(self, job_id: int) -> list[bytes]:
        return [bytes(c) for c in self.client.call(self._fn.shardDataHashes(job_id))]

    def published_shards(self, job_id: int) -> list[int]:
        """The shards whose test data is posted on chain."""
        published, _ = self.client.call(self._fn.shardBits(job_id))
        return [i for i in range(256) if published >> i & 1]

    def proven_shards(self, job_id: int) -> list[int]:
        """The shards whose accuracy proof the chain accepted."""
        _, proven = self.client.call(self._fn.shardBits(job_id))
        return [i for i in range(256) if proven >> i & 1]

    def shard_submitter(self, job_id: int, shard: int) -> str:
        return self.client.call(self._fn.shardSubmitter(job_id, shard))

    def commitment_of(self, rho: bytes, weights_hash: bytes, model_commitment: int, rand: bytes,
                      node: str) -> bytes:
        return bytes(self.client.call(self._fn.commitmentOf(rho, weights_hash, model_commitment, rand,
                                                            Web3.to_checksum_address(node))))

    def credit_of(self, account: str) -> int:
        return self.client.call(self._fn.creditOf(Web3.to_checksum_address(account)))

    def total_withdrawn(self) -> int:
        return self.client.call(self._fn.totalWithdrawn())

    def total_escrowed(self) -> int:
        return self.client.call(self._fn.totalEscrowed())

    def registry_address(self) -> str:
        return self.client.call(self._fn.registry())

    def test_shard_data(self, tx_hash: str) -> tuple[int, int, bytes]:
        """(job id, shard, bytes) a ``publishTestShard`` transaction posted (public call data)."""
        tx = self.client.rpc(lambda: self.client.w3.eth.get_transaction(tx_hash))
        fn, args = self.contract.decode_function_input(tx["input"])
        if fn.fn_name != "publishTestShard":
            raise ValueError(f"transaction {tx_hash} is not a publishTestShard call")
        return int(args["jobId"]), int(args["shard"]), bytes(args["data"])

    def accuracy_proof(self, tx_hash: str) -> tuple[int, int, bytes, list[int]]:
        """(job id, shard, proof, instances) a ``submitAccuracyProof`` transaction sent."""
        tx = self.client.rpc(lambda: self.client.w3.eth.get_transaction(tx_hash))
        fn, args = self.contract.decode_function_input(tx["input"])
        if fn.fn_name != "submitAccuracyProof":
            raise ValueError(f"transaction {tx_hash} is not a submitAccuracyProof call")
        return (int(args["jobId"]), int(args["shard"]), bytes(args["proof"]),
                [int(v) for v in args["instances"]])

    def stage_view(self, job_id: int, stage: int, events: Sequence[ChainEvent]) -> StageView:
        """A stage rebuilt from events (``fetch_events`` output)."""
        mine = [e for e in events if e.args.get("jobId") == job_id and e.args.get("stage") == stage]
        declared = [(e["node"], e["attempt"]) for e in mine if e.name == "StageDeclared"]
        revealed = [Revealed.from_event(e) for e in mine if e.name == "StageRevealed"]
        for e in mine:
            if e.name == "StageFinalised":
                return StageView(stage, True, declared, revealed, bytes(e["weightsHash"]), e["modelCommitment"],
                                 e["cid"], bytes(e["rho"]), e["finaliser"], e["attempt"])
        return StageView(stage, False, declared, revealed)
