"""The node's view of the chain and its transactions, over the one chain client.

Reads: jobs (with whether the escrow still covers them), the open stage's attempt, this node's
declaration, finalised stages, the manifest CIDs, the posted test set and the last stage's paid
nodes from events, and chain time. Writes: declare, reveal, settle, submit, register, withdraw —
all through ``ChainClient.transact`` with this node's key. The node checks the chain state it
read before it sends (no transaction sent to fail); a revert that still comes because another
transaction was mined first (a race) and means "already done" or "too late" is reported as such,
never retried. A proof the chain rejects raises its ``ContractError`` (named in
``PROOF_REJECTIONS``): the same bytes would be rejected again, so the caller records it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cached_property

from zkpot.chain import (AttemptView, ChainClient, ContractError, JobEscrowClient, JobStatus,
                         NodeRegistryClient, Opening, StagePhase, fetch_events, load_deployment)
from zkpot.config import Settings
from zkpot.hashing import keccak
from zkpot.node.identity import NodeIdentity

log = logging.getLogger("zkpot.node")

TRAINING = JobStatus.TRAINING
AWAITING_TEST_SET = JobStatus.AWAITING_TEST_SET
PROVING = JobStatus.PROVING

# the chain's verdict on a proof's bytes (the verifier's, or the escrow's binding to the job's
# shard and final model): final, resending the same proof from this node cannot change it
PROOF_REJECTIONS = ("ProofRejected", "InstancesMalformed", "ProofTooShort", "TestSetMismatch",
                    "ModelMismatch")
# a declaration refused because the attempt moved on without it: nothing left to do
DECLARATION_TOO_LATE = ("CommitPhaseClosed", "StageNotOpen", "JobStatusInvalid", "StageTooLate",
                        "DeadlinePassed")


@dataclass(frozen=True)
class PublishedTestSet:
    """A job's posted test set: its shards' bytes (in shard order), when the last was posted and
    the proof deadline."""

    shards: list[bytes]
    published_at: int       # timestamp of the block that completed it (TestSetPublished)
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
        return ChainClient.from_settings(self.settings, private_key=self.identity.account.key.to_0x_hex())

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
        # every event of the deployment since its block: the node's job memory is small, and
        # the API's index is the place for a faster projection
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
        """The posted test set once every shard is on chain (read from the posting transactions)."""
        done = [ev for ev in self._events(["TestSetPublished"]) if ev["jobId"] == job_id]
        if not done:
            return None
        posted = {ev["shard"]: ev.tx_hash for ev in self._events(["TestShardPublished"]) if ev["jobId"] == job_id}
        shards = [self.escrow.test_shard_data(posted[i])[2] for i in sorted(posted)]
        return PublishedTestSet(shards, self.block_time(done[0].block_number), done[0]["proofDeadline"])

    def finalists(self, job_id: int, stage: int, confirmations: int) -> list[str]:
        """The nodes paid for a final ``stage``: the first C openings of its agreed values in its
        agreed attempt (the last stage's: the nodes that share the bounty)."""
        final = [ev for ev in self._events(["StageFinalised"]) if ev["jobId"] == job_id and ev["stage"] == stage]
        if not final:
            return []
        f = final[0]
        agreed = (f["attempt"], bytes(f["rho"]), bytes(f["weightsHash"]), f["modelCommitment"],
                  keccak(f["cid"].encode()))
        return [ev["node"] for ev in self._events(["StageRevealed"])
                if ev["jobId"] == job_id and ev["stage"] == stage and 1 <= ev["position"] <= confirmations
                and (ev["attempt"], bytes(ev["rho"]), bytes(ev["weightsHash"]), ev["modelCommitment"],
                     bytes(ev["cidHash"])) == agreed]

    def block_time(self, block: int | str) -> int:
        return self.client.block_time(block)

    def chain_time(self) -> int:
        """Now, in chain time (``ChainClient.chain_time``)."""
        return self.client.chain_time()

    def attempt(self, job_id: int) -> AttemptView:
        return self.escrow.attempt_of(job_id)

    def my_declaration(self, job_id: int):
        """This node's latest declaration in the job (``zkpot.chain.DeclarationView``)."""
        return self.escrow.declaration_of(job_id, self.identity.address)

    def free_declarations(self) -> int:
        return self.registry.free_declarations(self.identity.address)

    # ---- writes (the one transaction path) ---------------------------------------------
    def declare(self, job_id: int, stage: int, secret) -> str | None:
        """Declare; None when the declaration stands, else why the chain found it too late
        (another transaction closed the commit phase, or finalised the stage, first)."""
        try:
            receipt = self.escrow.declare(job_id, stage, secret.commitment)
        except ContractError as exc:
            if exc.name == "DeclarationDuplicated":
                return None  # sent before a crash and mined: the declaration stands
            if exc.name in DECLARATION_TOO_LATE:
                return str(exc)
            raise
        log.info("declared job %s stage %s attempt %s in %s", job_id, stage, secret.attempt, receipt.tx_hash)
        return None

    def reveal(self, job_id: int, stage: int, secret, cid: str) -> bool:
        """Open the declaration; False when the chain already holds the opening (a resend)."""
        opening = Opening(secret.rho, secret.weights_hash, secret.model_commitment, secret.rand, cid)
        try:
            receipt = self.escrow.reveal(job_id, stage, opening)
        except ContractError as exc:
            if exc.name == "DeclarationOpened":
                return False
            raise
        log.info("revealed job %s stage %s attempt %s in %s", job_id, stage, secret.attempt, receipt.tx_hash)
        return True

    def settle(self, job_id: int) -> bool:
        """Settle this node's declaration in the job; False when there was nothing to settle."""
        try:
            self.escrow.settle(job_id, self.identity.address)
        except ContractError as exc:
            if exc.name in ("NothingToSettle", "SettlementPending"):
                return False
            raise
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
    attempt: int
    phase: str
    declarations: int
    max_declarations: int
    quorum: int
    reward: int
    mine: str


@dataclass(frozen=True)
class NodeStatus:
    stake: int
    locked: int
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
        a = chain.attempt(job_id)
        mine_decl = chain.my_declaration(job_id)
        if job.status == TRAINING:
            stage, state = a.stage, "open"
        else:
            stage, state = job.stages, job.status.name.lower().replace("_", " ")
        here = mine_decl.stage == stage and mine_decl.attempt == a.attempt
        secret = node.store.secret(job_id, stage, a.attempt)
        mine = ("opened" if here and mine_decl.position else "declared" if here else
                "-" if secret is None else
                "too late (unused)" if secret.status == "unused" else "trained")
        phase = a.phase.name.lower() if a.phase != StagePhase.NONE else "-"
        rows.append(StageRow(job_id, stage, f"{state} ({job.stages_done}/{job.stages} final)", a.attempt,
                             phase, a.declarations, a.max_declarations, job.confirmations, job.reward, mine))
    me = chain.registry.node_of(node.identity.address)
    return NodeStatus(me.stake, me.locked, chain.registry.is_active(node.identity.address), chain.credit(),
                      rows, node.store.secrets(), node.store.rejected_proofs())
