"""The employer's side of a delegated job: prepare it, keep its test set private, publish it.

``prepare_job`` is the one protocol sequence behind every door that creates a job (API, CLI,
demo), in an order that stores nothing for a job that cannot be created:

1. input: the spec against the data → seeded train/test split → whole proof shards → the
   stage count and chunk bytes by arithmetic → every term ``createJob`` checks
   (``zkpot.escrow_terms``);
2. chain: ``createJob`` with these numbers simulated for the employer (a ``JobChain``, see
   ``zkpot.escrow_preflight``): refusals, an unfunded wallet, an unreachable RPC stop here;
3. work: S_0, the test set on the accuracy circuit's input grid cut into shards, each
   committed twice: by c_T for the proofs (zk pipeline) and by keccak256 of its canonical
   bytes (``zkpot.testset``) for its publication; chunk CIDs, the manifest;
4. store: T and its shards' bytes privately for this employer (``zkpot.testsets``), then
   chunks, S_0 and the manifest. A failure while storing removes what this call stored; so
   does ``discard_job`` when the createJob transaction itself then fails.

``release_test_set`` gives T's shards, looked up by the on-chain job's employer and manifest
hash, to that employer only and only once the last stage is final; ``publish_test_set`` posts
them on chain (``publishTestShard``), where the escrow hashes each and refuses anything but the
committed test set. Loss and accuracy curves are in ``zkpot.curves``.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Protocol

import numpy as np

from zkpot import datasets, escrow_terms, staging, testset, testsets
from zkpot.config import Settings
from zkpot.joberrors import (JobChainError, JobError, JobInputError, JobNotFound, JobRefused,  # noqa: F401
                             JobsPending, JobStateError, JobStorageError, NotEmployerError, TestSetNotHeld)
from zkpot.manifest import Manifest, ManifestError, build_manifest, correct_threshold
from zkpot.spec import ModelSpec, SpecError

if TYPE_CHECKING:  # the chain client is only needed by the functions that send
    from zkpot.chain import JobEscrowClient, JobParams
    from zkpot.prepared import PreparedJobs

TEST_FRACTION = 0.2
# default work per stage (Δ target): a few seconds of CPU training for the bundled presets
DEFAULT_STAGE_FLOPS = 1_000_000
# test samples per accuracy-proof shard (N): one circuit, and one verifier contract, per
# (architecture, N); the default is the deployed demo verifier's (digits-mlp over shards of 64),
# so a job posted with the defaults can be proven; another needs its own verifier (verifier_for)
DEFAULT_SHARD_SIZE = 64
# what JobParams sends by default (seconds)
TEST_SET_WINDOW_S = 24 * 3600
PROOF_WINDOW_S = 24 * 3600
# each stage attempt's commit and reveal phases: a stage of the default work trains in
# seconds, and a commit phase also closes as soon as 2C - 1 declarations are in
COMMIT_WINDOW_S = 10 * 60
REVEAL_WINDOW_S = 10 * 60
PLACEHOLDER_CID = "b" + "a" * 58


class JobChain(Protocol):
    """The chain as ``prepare_job`` asks it, before any work (``zkpot.escrow_preflight``)."""

    chain_id: int

    def verifier_for(self, circuit) -> str: ...

    def check_create(self, params: "JobParams") -> None: ...


@dataclass(frozen=True)
class JobTerms:
    """What the employer offers: reward per confirmed declaration (wei), C, θ, deadline (unix s)."""

    reward_per_declaration: int
    quorum: int
    theta: float
    deadline: int
    bounty: int = 0
    stage_flops: int = DEFAULT_STAGE_FLOPS
    shard_size: int = DEFAULT_SHARD_SIZE
    commit_window: int = COMMIT_WINDOW_S
    reveal_window: int = REVEAL_WINDOW_S


@dataclass(frozen=True)
class PreparedJob:
    """A stored job ready to escrow: ``params`` are the exact ``createJob`` arguments."""

    manifest: Manifest
    manifest_cid: str
    chunk_cids: list[str]
    params: "JobParams"
    train_samples: int
    test_set: datasets.Dataset = field(repr=False)   # private until publication (on the grid)
    private: testsets.PrivateTestSet
    stored: tuple[str, ...] = ()                     # CIDs this preparation added to the store
    private_new: bool = True                         # T was not held before this preparation
    stored_bytes: int = 0                            # what it added: content and a new T
    token: str | None = None                         # its record in a ``PreparedJobs`` ledger
    expires_at: float | None = None                  # when that ledger removes it uncreated

    @property
    def manifest_hash(self) -> bytes:
        return self.params.manifest_hash

    @property
    def test_set_path(self):
        return self.private.path


def _say(progress: Callable[[str], None] | None, text: str) -> None:
    if progress is not None:
        progress(text)


@dataclass(frozen=True)
class CommittedTestSet:
    """T on the accuracy circuit's input grid, its shards' c_T and their canonical bytes."""

    test: datasets.Dataset
    commitments: list[bytes]
    shards: list[bytes]

    @property
    def data_hashes(self) -> list[bytes]:
        from zkpot.hashing import keccak

        return [keccak(s) for s in self.shards]


def job_circuit(settings: Settings, spec: ModelSpec, test: datasets.Dataset, shard_size: int,
                chain_id: int | None):
    """The job's accuracy circuit (set up the first time; a local SRS only for a development
    chain), or ``JobInputError`` when it cannot be set up here."""
    from zkpot import zk

    try:
        return zk.spec_circuit(spec, test.input_shape, test.num_classes, shard_size, settings,
                               chain_id=chain_id)
    except zk.CircuitTooLarge as e:
        raise JobInputError(f"zk circuit: {e}", field="shard_size") from e
    except zk.LocalSrsRefused as e:
        raise JobRefused(f"zk circuit: {e}") from e


def _commit_test_set(circuit, test: datasets.Dataset) -> CommittedTestSet:
    """T moved onto the circuit's input grid (every party then proves, commits and counts on
    the same values) and committed shard by shard."""
    from zkpot import zk

    scale = circuit.params.scale
    grid = (testset.quantise(test.features, scale) / float(1 << scale)).astype(np.float32)
    test = datasets.Dataset(grid, test.labels, test.num_classes, test.input_shape)
    try:
        shards = [testset.encode_shard(x, y, test.num_classes, scale)
                  for x, y in zk.shards(circuit, grid, test.labels)]
    except testset.TestShardError as e:
        raise JobInputError(f"test set: {e}", field="dataset") from e
    return CommittedTestSet(test, zk.test_set_commitments(circuit, grid, test.labels), shards)


def _check_input(settings: Settings, dataset: datasets.Dataset, spec: ModelSpec, terms: JobTerms):
    """Steps 1: (train, test, stage count) or ``JobInputError``; nothing is allocated per stage."""
    try:
        escrow_terms.check_amounts(terms.reward_per_declaration, terms.bounty)
        spec.check_against(dataset.input_shape, dataset.num_classes)
    except escrow_terms.TermsError as e:
        raise JobInputError(str(e), field=e.field) from e
    except SpecError as e:
        raise JobInputError(f"spec does not fit the dataset: {e}", field="spec") from e
    try:
        train, test = datasets.split(dataset, TEST_FRACTION, spec.seed)
    except datasets.DatasetError as e:
        raise JobInputError(f"dataset: {e}", field="dataset") from e
    usable = (len(test) // terms.shard_size) * terms.shard_size
    if usable == 0:
        raise JobInputError(f"the test split has {len(test)} samples, fewer than one proof shard of "
                            f"{terms.shard_size}: use more data or a smaller shard size", field="shard_size")
    try:
        stages = staging.stage_count(spec, len(train), terms.stage_flops, train.input_shape,
                                     train.num_classes)
        escrow_terms.check_stages(stages, settings.max_stages)
    except staging.StagingError as e:
        raise JobInputError(f"stages: {e}", field="stage_flops") from e
    except escrow_terms.TermsError as e:
        raise JobInputError(str(e), field="stage_flops") from e
    chunk_bytes = spec.epochs * len(train) * (4 * math.prod(train.input_shape) + 4)
    if chunk_bytes > settings.max_job_bytes:
        raise JobInputError(f"the stage chunks would hold {chunk_bytes} bytes ({spec.epochs} epochs "
                            f"of {len(train)} samples); at most {settings.max_job_bytes} are stored "
                            "per job (ZKPOT_MAX_JOB_BYTES)", field="dataset")
    return train, test.subset(np.arange(usable)), stages


def _placeholders(shards: int) -> list[bytes]:
    """Distinct stand-ins for the shard commitments before they are computed (the chain
    refuses repeated ones)."""
    return [i.to_bytes(32, "big") for i in range(1, shards + 1)]


def _params(terms: JobTerms, stages: int, samples: int, commitments, data_hashes, verifier: str,
            manifest_hash: bytes = bytes(32), manifest_cid: str = PLACEHOLDER_CID) -> "JobParams":
    from zkpot.chain import JobParams

    return JobParams(manifest_hash=manifest_hash, manifest_cid=manifest_cid, stages=stages,
                     confirmations=terms.quorum, reward=terms.reward_per_declaration, bounty=terms.bounty,
                     threshold=correct_threshold(round(terms.theta * 10_000), samples), samples=samples,
                     shard_commitments=list(commitments), shard_data_hashes=list(data_hashes),
                     verifier=verifier, deadline=terms.deadline, commit_window=terms.commit_window,
                     reveal_window=terms.reveal_window, test_set_window=TEST_SET_WINDOW_S,
                     proof_window=PROOF_WINDOW_S)


def check_params(settings: Settings, params: "JobParams", now: int | None = None) -> None:
    """Every ``createJob`` check that needs no chain, as ``JobInputError`` naming the field."""
    t = escrow_terms.EscrowTerms(params.stages, params.confirmations, params.reward, params.bounty,
                                 params.samples, params.threshold, len(params.shard_commitments),
                                 len(set(params.shard_commitments)), params.deadline,
                                 params.commit_window, params.reveal_window, params.test_set_window,
                                 params.proof_window)
    try:
        escrow_terms.check_escrow_terms(t, int(time.time()) if now is None else now, settings.max_stages)
    except escrow_terms.TermsError as e:
        raise JobInputError(str(e), field=e.field) from e


def prepare_job(settings: Settings, dataset: datasets.Dataset, spec: ModelSpec, terms: JobTerms,
                employer: str, chain: JobChain,
                progress: Callable[[str], None] | None = None,
                ledger: "PreparedJobs | None" = None) -> PreparedJob:
    """Validate, check with the chain, commit and store a job for ``employer`` (see module doc).

    Raises ``JobInputError`` (the input), ``JobRefused``/``JobChainError`` (the chain) before
    anything is written; ``progress`` receives a line per step. With a ``ledger`` (a server
    preparing for other wallets, ``zkpot.prepared``) the job is admitted there before anything
    is stored (``JobsPending`` otherwise) and recorded once it is.
    """
    from zkpot.stage import initial_weights
    from zkpot.storage import StorageError, cid_v1, open_store

    train, test, stages = _check_input(settings, dataset, spec, terms)
    shards = len(test) // terms.shard_size
    stand_in = _placeholders(shards)
    check_params(settings, _params(terms, stages, len(test), stand_in, stand_in, "0x" + "00" * 20))
    _say(progress, f"zk circuit for proof shards of {terms.shard_size}, and its verifier on chain")
    circuit = job_circuit(settings, spec, test, terms.shard_size, chain.chain_id)
    verifier = chain.verifier_for(circuit)
    _say(progress, f"asking the chain: createJob for {stages} stages, C = {terms.quorum}")
    chain.check_create(_params(terms, stages, len(test), stand_in, stand_in, verifier))

    _say(progress, f"committing the test set: {shards} shard(s) of {terms.shard_size} (zk circuit)")
    committed = _commit_test_set(circuit, test)
    test, commitments = committed.test, committed.commitments
    s0 = initial_weights(spec)
    s0_bytes = s0.to_bytes()
    chunks = staging.plan_stages(spec, len(train), terms.stage_flops, train.input_shape,
                                 train.num_classes)
    _say(progress, f"cutting {len(train)} training samples into {len(chunks)} stage chunks")
    chunk_cids = [cid_v1(datasets.encode_chunk(train.subset(idx))) for idx in chunks]
    try:
        manifest = build_manifest(spec, train.input_shape, train.num_classes, chunk_cids,
                                  [len(c) for c in chunks], commitments, len(test), terms.quorum,
                                  terms.reward_per_declaration, terms.theta, terms.deadline,
                                  cid_v1(s0_bytes), s0.hash())
    except ManifestError as e:
        raise JobInputError(str(e)) from e

    _say(progress, f"storing {len(set(chunk_cids))} chunk(s), S_0 and the manifest; the test set "
                   "privately")
    manifest_bytes = manifest.to_bytes()
    uses = [*chunk_cids, cid_v1(s0_bytes), cid_v1(manifest_bytes)]
    token = (ledger.reserve(employer, uses, testsets.private_dir(settings, employer, manifest.keccak()))
             if ledger is not None else None)
    store = open_store(settings)
    try:
        testsets.find(settings, employer, manifest.keccak())
        private_new = False
    except TestSetNotHeld:
        private_new = True
    added: list[str] = []
    sizes = [0]

    def put(data: bytes) -> str:
        cid = cid_v1(data)
        if not store.has(cid):
            store.put(data)
            added.append(cid)
            sizes[0] += len(data)
        return cid

    private = None
    try:
        private = testsets.keep(settings, employer, manifest.keccak(), test, committed.shards)
        for idx in chunks:
            put(datasets.encode_chunk(train.subset(idx)))
        put(s0_bytes)
        manifest_cid = put(manifest_bytes)
    except BaseException as e:
        _remove(store, added, private if private_new else None)
        if token is not None:
            ledger.release(token)
        if isinstance(e, StorageError):
            raise JobStorageError(f"the content store failed: {e}") from e
        raise
    if private_new:
        sizes[0] += sum(f.stat().st_size for f in private.folder.iterdir() if f.is_file())
    params = _params(terms, manifest.stages, len(test), commitments, committed.data_hashes, verifier,
                     manifest.keccak(), manifest_cid)
    prepared = PreparedJob(manifest, manifest_cid, chunk_cids, params, len(train), test, private,
                           tuple(added), private_new, sizes[0], token)
    if ledger is not None:
        expires = ledger.record(token, prepared)
        prepared = dataclasses.replace(prepared, expires_at=expires)
    return prepared


def _remove(store, cids, private: testsets.PrivateTestSet | None) -> None:
    for cid in cids:
        try:
            store.remove(cid)
        except Exception:  # best effort: a store that is down keeps what it has
            pass
    if private is not None:
        testsets.discard(private)


def discard_job(settings: Settings, prepared: PreparedJob) -> None:
    """Remove what ``prepared`` stored (its createJob failed): new CIDs and a new private T."""
    from zkpot import prepared as ledger
    from zkpot.storage import open_store

    _remove(open_store(settings), prepared.stored, prepared.private if prepared.private_new else None)
    if prepared.token is not None:
        ledger.release(settings, prepared.token)


@dataclass(frozen=True)
class TestSetRelease:
    """T's shards as ``publishTestShard`` posts them; ``tx_hashes`` of those sent."""

    job_id: int
    shards: list[bytes]
    samples: int
    tx_hashes: list[str] = field(default_factory=list)


def release_test_set(settings: Settings, escrow: "JobEscrowClient", job_id: int,
                     employer: str) -> TestSetRelease:
    """Check that ``employer`` is job ``job_id``'s employer and may publish now; the shards of
    the test set that employer prepared for the job's manifest, checked against the chain."""
    from web3 import Web3

    from zkpot.chain import JobStatus
    from zkpot.hashing import keccak

    job = escrow.get_job(job_id)
    if job.status == JobStatus.NONE:
        raise JobNotFound(f"no job {job_id} on this chain")
    if Web3.to_checksum_address(employer) != job.employer:
        raise NotEmployerError(f"only the employer {job.employer} can publish job {job_id}'s test set")
    if job.status == JobStatus.TRAINING:
        raise JobStateError(f"job {job_id} is still training ({job.stages_done} of {job.stages} "
                            "stages final): the test set is published only after the last stage")
    if job.status != JobStatus.AWAITING_TEST_SET:
        raise JobStateError(f"job {job_id} is {job.status.name.lower().replace('_', ' ')}: "
                            "its test set can no longer be published")
    if escrow.client.chain_time() >= job.phase_deadline:
        raise JobStateError(f"job {job_id}'s test-set window closed at {job.phase_deadline}")
    held = testsets.find(settings, job.employer, job.manifest_hash)
    shards = testsets.load_shards(held)
    if [keccak(s) for s in shards] != escrow.shard_data_hashes(job_id):
        raise TestSetNotHeld(f"the test set held here for job {job_id}'s manifest is not the one the job "
                             "committed to")
    return TestSetRelease(job_id, shards, held.samples)


def publish_test_set(settings: Settings, client: "JobEscrowClient", job_id: int) -> TestSetRelease:
    """Post T's shards on chain (``publishTestShard``) as ``client``'s key; shards the chain
    already holds are not sent again."""
    release = release_test_set(settings, client, job_id, client.client.address)
    posted = set(client.published_shards(job_id))
    txs = [client.publish_test_shard(job_id, i, data).tx_hash
           for i, data in enumerate(release.shards) if i not in posted]
    return TestSetRelease(job_id, release.shards, release.samples, txs)
