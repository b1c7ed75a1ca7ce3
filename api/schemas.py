"""Schema families shared by the routers (``JobCreate``, ``JobPublic``, …).

Amounts are wei as decimal strings (they overflow JavaScript numbers); hashes are 0x-hex.
"""

from __future__ import annotations

from typing import Literal

from fastapi import UploadFile
from pydantic import BaseModel, Field

from zkpot.jobs import DEFAULT_SHARD_SIZE, DEFAULT_STAGE_FLOPS

ADDRESS_PATTERN = r"^0x[0-9a-fA-F]{40}$"
HASH_PATTERN = r"^0x[0-9a-fA-F]{64}$"
CID_PATTERN = r"^b[a-z2-7]{20,200}$"
PAGE_LIMIT_MAX = 200
WEI_PATTERN = r"^[0-9]{1,30}$"

JobStatus = Literal["training", "awaiting-test-set", "proving", "complete", "failed", "reclaimed"]


class UnsignedTx(BaseModel):
    """A transaction for the wallet to sign and send, exactly as the contract expects it."""

    to: str = Field(description="contract address")
    data: str = Field(description="ABI-encoded call, 0x-hex")
    value: str = Field(description="wei to send, decimal")
    chain_id: int


class WalletTransaction(BaseModel):
    """An answer whose next step is a transaction in the employer's wallet."""

    transaction: UnsignedTx
    tx_hash: str | None = Field(None, description="set when the server sent it itself (dev mode)")


# The one definition of the job-creation form: POST /api/jobs reads it as a form model and the
# catalog's defaults are its defaults.
class JobCreate(BaseModel):
    """The job-creation form (multipart): a model spec, one dataset (file or demo name), the terms."""

    spec: str = Field(max_length=65536, description="model spec JSON")
    reward_per_stage_wei: str = Field(pattern=WEI_PATTERN, description="wei per confirmed declaration")
    quorum: int = Field(2, ge=1, le=16, description="C: agreeing nodes per stage")
    theta: float = Field(0.8, ge=0.0, le=1.0, description="accuracy threshold θ")
    deadline_s: int = Field(86400, ge=60, le=365 * 86400, description="seconds from now")
    bounty_wei: str = Field("0", pattern=WEI_PATTERN, description="wei for the accuracy proof")
    dataset: UploadFile | None = Field(None, description="CSV or NPZ dataset")
    demo_dataset: str | None = Field(None, max_length=64, description="bundled dataset name")
    stage_flops: int = Field(DEFAULT_STAGE_FLOPS, ge=10**3, le=10**15,
                             description="target training FLOPs per stage (Δ)")
    shard_size: int = Field(DEFAULT_SHARD_SIZE, ge=1, le=256,
                            description="test samples per accuracy-proof shard (N)")


class JobPrepared(WalletTransaction):
    """A validated, chunked and stored job: the manifest and the escrow transaction to sign."""

    manifest_hash: str
    manifest_cid: str
    stage_count: int
    chunk_cids: list[str]
    train_samples: int
    test_samples: int
    threshold: int = Field(description="correct test predictions required: ⌈θ·N⌉")
    deposit: str = Field(description="wei the transaction escrows")
    deposit_eth: str


class TestSetRelease(WalletTransaction):
    """The private test set, now in the content store, and its publishTestSet transaction."""

    job_id: int
    test_set_cid: str
    samples: int


class ChainRef(BaseModel):
    block: int
    tx: str


class DeclarationPublic(ChainRef):
    node: str
    weights_hash: str
    model_commitment: str = Field(
        description="model commitment h_W: keccak256 of the weights' KZG commitment (decimal)")
    commitment: str = Field(description="keccak256(rho ‖ rand ‖ node)")
    status: Literal["committed", "revealed", "slashed", "conflicting"]
    paid: bool


class RevealPublic(ChainRef):
    revealer: str
    weights_hash: str
    rho: str = Field(description="the training secret of the stage")
    weights_cid: str = Field(description="content ID of the stage's weights")
    confirmed: int


class StageMetrics(BaseModel):
    mean_loss: float | None = Field(None, description="mean per-sample training loss of the stage")
    accuracy: float | None = Field(None, description="accuracy of the stage's weights on the test set")


class StagePublic(BaseModel):
    stage: int
    state: Literal["waiting", "declared", "agreed", "final"]
    declarations: list[DeclarationPublic]
    finalised: RevealPublic | None
    paid: list[str] = Field(description="nodes credited for this stage")
    slashed: list[str]
    conflicts: list[str] = Field(description="nodes that declared a different result")
    metrics: StageMetrics | None


class ProofPublic(ChainRef):
    shard: int
    submitter: str
    correct: int


class JobSummary(BaseModel):
    job_id: int
    employer: str
    status: JobStatus
    manifest_hash: str
    manifest_cid: str
    stage_count: int
    stages_final: int
    quorum: int = Field(description="C: agreeing declarations that finalise a stage")
    reward_per_stage: str = Field(description="wei per confirmed declaration")
    bounty: str = Field(description="wei paid for the accepted accuracy proof")
    deposit: str = Field(description="wei escrowed: stages × C × reward + bounty")
    paid: str = Field(description="wei credited to nodes so far")
    deadline: int = Field(description="unix time")
    created: ChainRef


class JobPublic(JobSummary):
    theta: float | None = Field(None, description="accuracy threshold, when the manifest is readable")
    stages: list[StagePublic]
    test_set_cid: str | None
    proofs: list[ProofPublic]
    correct: int | None = Field(None, description="correct predictions proven (when complete)")
    final_model_cid: str | None
    can_reclaim: bool = Field(description="deadline passed with stages unfinished")


class JobPage(BaseModel):
    """One page of jobs, newest first."""

    items: list[JobSummary]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last")


class Rewards(BaseModel):
    """What an account (a node operator's or an employer's) has been credited and can withdraw."""

    address: str
    earned: str = Field(description="wei credited by the escrow (rewards and refunds)")
    pending: str = Field(description="wei withdrawable now (escrow and registry credit)")


class NodePublic(Rewards):
    status: Literal["active", "exiting", "exited", "unregistered"]
    stake: str
    declarations: int
    stages_paid: int


class NodePage(BaseModel):
    """One page of nodes, by address."""

    items: list[NodePublic]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last")


class AccountPublic(Rewards):
    withdrawn: str


class IndexStatus(BaseModel):
    next_block: int
    events: int
    jobs: int
    error: str | None


class StagePoint(BaseModel):
    stage: int
    weights_cid: str
    mean_loss: float = Field(description="mean cross-entropy of S_i on its chunk B_i (float model)")
    accuracy: float = Field(description="accuracy of S_i on the evaluation set")


class JobCurves(BaseModel):
    """Loss and accuracy per finalised stage, evaluated from the public chunks and weights."""

    job_id: int
    evaluated_on: Literal["training set", "test set"] | None
    points: list[StagePoint]
    unavailable: dict[str, str] = Field(description="stage → why it has no point yet")
    reason: str | None = Field(None, description="why there are no curves at all")
