"""The node's view of the chain and its transactions, over the one chain client.

Reads: jobs (with whether the escrow still covers them), this node's declarations, agreement
counts, finalised stages, the manifest CIDs, the test set and a stage's paid nodes from
events, and chain time. Writes: declare, reveal, submit, register, withdraw — all through
``ChainClient.transact`` with this node's key. A revert that means "already done" (a
duplicate declaration, a stage finalised by another node's reveal) is read back from the chain
and reported as done, never retried; one that means "too late" (C agreeing declarations came
first) is reported as such. A proof the chain rejects raises its ``ContractError`` (named in
``PROOF_REJECTIONS``): the same bytes would be rejected again, so the caller records it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cached_property

from web3.exceptions import Web3Exception

from zkpot.chain import (ChainClient, ContractError, Declaration, JobEscrowClient, JobStatus,
                         NodeRegistryClient, fetch_events, load_deployment)
from zkpot.config import Settings
from zkpot.node.identity import NodeIdentity

log = logging.getLogger("zkpot.node")

TRAINING = JobStatus.TRAINING
AWAITING_TEST_SET = JobStatus.AWAITING_TEST_SET
PROVING = JobStatus.PROVING
ENDED = (JobStatus.COMPLETED, JobStatus.CLOSED)

# the chain's verdict on a proof's bytes (the verifier's, or the escrow's binding to the job's
# shard and final model), or on its sender (not one of the job's finalists): final, resending
# the same proof from this node cannot change it
PROOF_REJECTIONS = ("ProofRejected", "InstancesMalformed", "ProofTooShort", "TestSetMismatch",
                    "ModelMismatch", "CallerNotFinalist")
# a declaration refused because the stage moved on without it: nothing left to do
DECLARATION_TOO_LATE = ("AgreementReached", "StageNotOpen", "JobStatusInvalid")


@dataclass(frozen=True)
class PublishedTestSet:
    """A job's published test set: its CID, when it was published and the proof deadline."""

    cid: str
    published_at: int       # timestamp of the TestSetPublished block
    proof_deadline: int


@dataclass(frozen=True)
class Job:
    """A job as the node sees it: the contract's JobView plus derived facts."""

    job_id: int
    view: object  # zkpot.chain.JobView

    def __getattr__(self, name):
        return getattr(self.view, name)

    @property
    def funded(self) -> bool:
        """The escrow still holds every unfinished stage's rewards and the bounty."""
        v = self.view
        owed = (v.stages - v.stages_done) * v.confirmations * v.reward + v.bounty
        return v.remaining >= owed


class NodeChain:
    def __init__(self, settings: Settings, identity: NodeIdentity):
        self.settings = settings
        self.identity = identity

    @cached_property
    def client(self) -> ChainClient:
        return ChainClient(self.settings.rpc_url, self.identity.account.key.to_0x_hex(),
                           chain_id=self.settings.chain_id, lock_dir=self.settings.path("locks"))

    @cached_property
    def deployment(self):
        return load_deployment(self.settings)

    @cached_property
    def escrow(self) -> JobEscrowClient:
        return JobEscrowClient(self.client, self.deployment.escrow)

    @cached_property
    def registry(self) -> NodeRegistryClient:
        return NodeRegistryClient(self.client, self.deployment.registry)

    # ---- reads ---------------------------------------------------------------------------
    def events_since(self, start: int) -> tuple[list, int]:
        """Events in [start, latest] and the latest block read."""
        start = max(start, self.deployment.block or 0)
        last = self.client.block_number()
        if start > last:
            return [], start - 1
        return fetch_events(self.client, self.deployment, from_block=start, to_block=last), last

    def _events(self, names: list[str]):
        return fetch_events(self.client, self.deployment, from_block=self.deployment.block or 0,
                            names=names)

    def job(self, job_id: int) -> Job:
        return Job(job_id, self.escrow.get_job(job_id))

    def manifest_cid(self, job_id: int) -> str | None:
        for ev in self._events(["JobCreated"]):
            if ev["jobId"] == job_id:
                return ev["manifestCid"]
        return None

    def finalised(self, job_id: int, stage: int) -> tuple[bytes, str] | None:
        """(weights hash, CID) of a final stage, from its StageFinalised event."""
        for ev in self._events(["StageFinalised"]):
            if ev["jobId"] == job_id and ev["stage"] == stage:
                return bytes(ev["weightsHash"]), ev["cid"]
        return None

    def test_set(self, job_id: int) -> PublishedTestSet | None:
        for ev in self._events(["TestSetPublished"]):
            if ev["jobId"] == job_id:
                return PublishedTestSet(ev["cid"], self.block_time(ev.block_number),
                                        ev["proofDeadline"])
        return None

    def finalists(self, job_id: int, stage: int) -> list[str]:
        """The nodes paid for ``stage`` (the final stage's: the job's finalists)."""
        return [ev["node"] for ev in self._events(["DeclarationRewarded"])
                if ev["jobId"] == job_id and ev["stage"] == stage]

    def block_time(self, block: int | str) -> int:
        w3 = self.client.w3
        return int(self.client.rpc(lambda: w3.eth.get_block(block))["timestamp"])

    def chain_time(self) -> int:
        """Now, in chain time: the timestamp the next block would carry (the pending block's),
        or the latest block's where the RPC serves no pending block."""
        try:
            return max(self.block_time("pending"), self.block_time("latest"))
        except (Web3Exception, ValueError, KeyError, TypeError):
            return self.block_time("latest")

    def declared_stage(self, job_id: int) -> int:
        """The stage of this node's latest declaration in the job (0: none)."""
        return self.escrow.declaration_of(job_id, self.identity.address).stage

    def agreement(self, job_id: int, stage: int, secret) -> int:
        return self.escrow.agreement_of(job_id, stage, secret.weights_hash,
                                        secret.model_commitment)

    def declarations(self, job_id: int, stage: int) -> list[Declaration]:
        return [Declaration.from_event(ev) for ev in self._events(["StageDeclared"])
                if ev["jobId"] == job_id and ev["stage"] == stage]

    # ---- writes (the one transaction path) ---------------------------------------------
    def declare(self, job_id: int, stage: int, secret) -> str | None:
        """Declare; None when the declaration stands, else why the chain found it too late
        (``AgreementReached``: C agreeing declarations were mined first; or the stage is final)."""
        try:
            receipt = self.escrow.declare(job_id, stage, secret.weights_hash,
                                          secret.model_commitment, secret.commitment, secret.rand)
        except ContractError as exc:
            if exc.name == "DeclarationDuplicated":
                return None  # sent before a crash and mined: the declaration stands
            if exc.name in DECLARATION_TOO_LATE:
                return str(exc)
            raise
        log.info("declared job %s stage %s in %s", job_id, stage, receipt.tx_hash)
        return None

    def reveal(self, job_id: int, stage: int, secret, cid: str) -> bool:
        """Reveal ρ; False when another agreeing node finalised the stage first."""
        try:
            receipt = self.escrow.reveal(job_id, stage, secret.rho, cid,
                                         self.declarations(job_id, stage))
        except ContractError as exc:
            job = self.job(job_id)
            if job.stages_done >= stage:
                return False
            raise
        log.info("revealed job %s stage %s in %s", job_id, stage, receipt.tx_hash)
        return True

    def submit_proof(self, job_id: int, shard: int, proof: bytes, instances: list[int]) -> bool:
        """True when accepted; False when another proof of the shard was accepted first."""
        try:
            self.escrow.submit_accuracy_proof(job_id, shard, proof, instances)
        except ContractError as exc:
            if exc.name == "ShardProven":
                return False
            raise
        return True

    def register(self, stake_wei: int | None) -> str:
        minimum = self.registry.min_stake()
        stake = stake_wei or minimum
        if self.registry.stake_of(self.identity.address) > 0:
            self.registry.top_up(stake)
            return f"stake topped up by {stake} wei"
        self.registry.register(stake)
        return f"registered with a stake of {stake} wei"

    def credit(self) -> int:
        return (self.escrow.credit_of(self.identity.address)
                + self.registry.credit_of(self.identity.address))

    def withdraw(self) -> str:
        """Withdraw the escrow's and the registry's credit (rewards, released stake)."""
        got = []
        for name, contract in (("rewards", self.escrow), ("stake", self.registry)):
            amount = contract.credit_of(self.identity.address)
            if amount:
                contract.withdraw()
                got.append(f"{amount} wei of {name}")
        return "withdrew " + ", ".join(got) if got else "nothing to withdraw"


@dataclass(frozen=True)
class StageRow:
    job_id: int
    stage: int
    state: str
    declarations: int
    quorum: int
    reward: int
    mine: str


@dataclass(frozen=True)
class NodeStatus:
    stake: int
    active: bool
    credit: int
    stages: list[StageRow]
    secrets: list
    rejected_proofs: list    # zkpot.node.store.RejectedProof: refused by the chain, not resent


def node_status(node) -> NodeStatus:
    chain: NodeChain = node.chain
    rows = []
    for job_id in range(1, chain.escrow.job_count() + 1):
        job = chain.job(job_id)
        declared = chain.declared_stage(job_id)
        if job.status == TRAINING:
            stage, state = job.stages_done + 1, "open"
        else:
            stage, state = job.stages, job.status.name.lower().replace("_", " ")
        secret = node.store.secret(job_id, stage)
        mine = ("declared" if declared == stage else
                "-" if secret is None else
                "too late (unused)" if secret.status == "unused" else "trained")
        rows.append(StageRow(job_id, stage, f"{state} ({job.stages_done}/{job.stages} final)",
                             job.declarations, job.confirmations, job.reward, mine))
    return NodeStatus(chain.registry.stake_of(node.identity.address),
                      chain.registry.is_active(node.identity.address), chain.credit(), rows,
                      node.store.secrets(), node.store.rejected_proofs())
