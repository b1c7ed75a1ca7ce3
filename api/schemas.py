"""Schema families shared by the routers (``JobCreate``, ``JobPublic``, …).

Amounts are wei as decimal strings (they overflow JavaScript numbers); hashes are 0x-hex.
"""

from __future__ import annotations

from typing import Literal

from fastapi import UploadFile
from pydantic import BaseModel, Field

from zkpot.escrow_terms import MAX_CONFIRMATIONS, MAX_PHASE_WINDOW_S, MIN_PHASE_WINDOW_S
from zkpot.node.given_up import KINDS, REASON_MAX
from zkpot.jobs import COMMIT_WINDOW_S, DEFAULT_SHARD_SIZE, DEFAULT_STAGE_FLOPS, REVEAL_WINDOW_S

ADDRESS_PATTERN = r"^0x[0-9a-fA-F]{40}$"
HASH_PATTERN = r"^0x[0-9a-fA-F]{64}$"
CID_PATTERN = r"^b[a-z2-7]{20,200}$"
PAGE_LIMIT_MAX = 200
WEI_PATTERN = r"^[0-9]{1,30}$"

JobStatus = Literal["training", "awaiting-test-set", "proving", "complete", "failed", "forfeited", "reclaimed"]


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
    reward_per_declaration_wei: str = Field(pattern=WEI_PATTERN, description="wei per confirmed declaration")
    quorum: int = Field(2, ge=1, le=MAX_CONFIRMATIONS,
                        description="C: agreeing openings that finalise a stage (its paid declarations)")
    theta: float = Field(0.8, ge=0.0, le=1.0, description="accuracy threshold θ")
    deadline_s: int = Field(86400, ge=60, le=365 * 86400, description="seconds from now")
    bounty_wei: str = Field("0", pattern=WEI_PATTERN, description="wei for the accuracy proof")
    dataset: UploadFile | None = Field(None, description="CSV or NPZ dataset")
    demo_dataset: str | None = Field(None, max_length=64, description="bundled dataset name")
    stage_flops: int = Field(DEFAULT_STAGE_FLOPS, ge=10**3, le=10**15,
                             description="target training FLOPs per stage (Δ)")
    shard_size: int = Field(DEFAULT_SHARD_SIZE, ge=1, le=256,
                            description="test samples per accuracy-proof shard (N)")
    commit_window_s: int = Field(COMMIT_WINDOW_S, ge=MIN_PHASE_WINDOW_S, le=MAX_PHASE_WINDOW_S,
                                 description="seconds of a stage attempt's commit phase (it also closes "
                                             "once 2C - 1 declarations are in)")
    reveal_window_s: int = Field(REVEAL_WINDOW_S, ge=MIN_PHASE_WINDOW_S, le=MAX_PHASE_WINDOW_S,
                                 description="seconds of a stage attempt's reveal phase")


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
    prepared_until: int = Field(description="unix time (the server's clock) by which createJob must be on chain; "
                                            "after it, what was stored for this job is removed "
                                            "(ZKPOT_PREPARED_TTL_S)")


class TestSetRelease(BaseModel):
    """The private test set's shards as publishTestShard transactions (one per shard not yet
    posted) for the employer's wallet; sent by the server itself in dev mode."""

    job_id: int
    samples: int
    shards: int
    transactions: list[UnsignedTx]
    tx_hashes: list[str] = Field(default_factory=list, description="set when the server sent them (dev mode)")


class ChainRef(BaseModel):
    block: int
    tx: str


class DeclarationPublic(ChainRef):
    node: str
    attempt: int
    commitment: str = Field(description="keccak256(rho ‖ H(S) ‖ h_W ‖ rand ‖ node): shows nothing copyable")
    status: Literal["committed", "revealed", "paid", "released", "slashed"]
    position: int | None = Field(None, description="rank among the openings of the same values "
                                                   "(the first C finalise the stage and are paid); "
                                                   "255: opened after the stage was final")
    weights_hash: str | None = Field(None, description="H(S) as opened (public once revealed)")
    paid: bool


class RevealPublic(ChainRef):
    finaliser: str = Field(description="the node whose opening was the C-th agreeing one")
    attempt: int
    weights_hash: str
    model_commitment: str = Field(description="h_W (decimal; non-zero for the last stage)")
    rho: str = Field(description="the training secret of the stage")
    weights_cid: str = Field(description="content ID of the stage's weights")


class StageMetrics(BaseModel):
    mean_loss: float | None = Field(None, description="mean per-sample training loss of the stage")
    accuracy: float | None = Field(None, description="accuracy of the stage's weights on the test set")


class StagePublic(BaseModel):
    stage: int
    state: Literal["waiting", "committing", "revealing", "retrying", "final"]
    attempt: int = Field(description="the attempt that finalised the stage, or the one under way")
    failed_attempts: int = Field(description="attempts of this stage that ended without agreement")
    declarations: list[DeclarationPublic]
    finalised: RevealPublic | None
    paid: list[str] = Field(description="nodes whose declaration of this stage was paid")
    slashed: list[str]
    metrics: StageMetrics | None


class ActionPublic(BaseModel):
    """Something the contract accepts now (from ``zkpot.lifecycle``)."""

    name: str
    who: Literal["employer", "nodes", "declarers", "anyone"]


class DeadlinesPublic(BaseModel):
    training: int = Field(description="unix time: stages must be final before it")
    commit: int | None = Field(None, description="the open attempt's commit phase ends")
    reveal: int | None = Field(None, description="the open attempt's reveal phase ends")
    test_set: int | None = Field(None, description="the employer must post the test set by then")
    proofs: int | None = Field(None, description="the accuracy proofs must be in by then")


class TestShardPublic(ChainRef):
    shard: int
    data_hash: str = Field(description="keccak256 of the shard's canonical bytes, as committed")


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
    quorum: int = Field(description="C: agreeing openings that finalise a stage (and are paid)")
    reward_per_declaration: str = Field(description="wei per paid declaration (C per stage)")
    bounty: str = Field(description="wei for the accuracy certificate, shared by the last stage's paid nodes")
    deposit: str = Field(description="wei escrowed: stages × C × reward + bounty")
    paid: str = Field(description="wei credited to nodes so far (rewards and bounty shares)")
    deadline: int = Field(description="unix time")
    waiting_for: str = Field(description="what moves the job on, in words")
    created: ChainRef


class GivenUpIn(BaseModel):
    """A node's signed word that it gave a step up (``zkpot.node.given_up``)."""

    job_id: int = Field(ge=1, lt=2**64)
    stage: int = Field(ge=0, lt=2**32, description="the stage (0: a job-level step)")
    kind: Literal[KINDS] = Field(description="the step given up")  # type: ignore[valid-type]
    reason: str = Field(min_length=1, max_length=REASON_MAX, description="the node's words")
    at: int = Field(ge=0, lt=2**40, description="unix time the node signed it")
    signature: str = Field(pattern=r"^0x[0-9a-fA-F]{130}$", description="EIP-191 signature of "
                           "the report's text by the node's key")


class GivenUpPublic(BaseModel):
    """A step a node gave up after it failed the same way several times, in its words."""

    node: str
    kind: str
    stage: int
    reason: str = Field(description="the node's own words: show as text")
    at: int = Field(description="unix time of the report")


class JobPublic(JobSummary):
    theta: float | None = Field(None, description="accuracy threshold, when the manifest is readable")
    stages: list[StagePublic]
    phase: Literal["commit", "reveal", "ended"] | None = Field(None, description="the open attempt's phase")
    deadlines: DeadlinesPublic
    actions: list[ActionPublic] = Field(description="what the contract accepts now, and from whom")
    test_shards: list[TestShardPublic] = Field(description="test-set shards posted on chain")
    proofs: list[ProofPublic]
    correct: int | None = Field(None, description="correct predictions proven (when complete or failed)")
    final_model_cid: str | None
    can_reclaim: bool = Field(description="the employer may reclaim now (lifecycle action 'reclaim')")
    given_up: list[GivenUpPublic] | None = Field(
        default_factory=list, description="steps nodes reported they gave up (signed by registered "
                                          "nodes); null when the report store does not answer")


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
