"""The employer's side of a delegated job: prepare it, keep its test set private, publish it.

``prepare_job`` is the one protocol sequence behind every door that creates a job (API, CLI,
demo): check the spec against the data → seeded train/test split → Δ stage chunks → S_0 →
the test set on the circuit's input grid, cut into shards, each committed twice: by c_T for
the proofs (zk pipeline) and by keccak256 of its canonical bytes (``zkpot.testset``) for its
publication → store chunks, S_0 and the manifest → ``JobParams`` for ``createJob``. Nothing is
written before every check has passed. The test set T is then kept in a private employer
folder (``<state_dir>/private/<manifest hash>/testset.npz``), never in the content store
(which on IPFS is public): nodes must not train on it. ``publish_test_set`` posts each shard's
canonical bytes on chain (``publishTestShard``) once the last stage is final; the escrow hashes
them and refuses anything but the committed test set.

``stage_metrics`` / ``job_curves`` evaluate finalised stage weights on the public training
chunks (or the posted test set) for the loss and accuracy curves, cached per weights CID.
"""

from __future__ import annotations

import io
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from zkpot import datasets, staging, testset
from zkpot.config import Settings
from zkpot.manifest import Manifest, ManifestError, build_manifest
from zkpot.spec import ModelSpec, SpecError

if TYPE_CHECKING:  # the chain client is only needed by the functions that send
    from zkpot.chain import JobEscrowClient, JobParams

TEST_FRACTION = 0.2
# default work per stage (Δ target): a few seconds of CPU training for the bundled presets
DEFAULT_STAGE_FLOPS = 1_000_000
# test samples per accuracy-proof shard (N): one circuit per (architecture, N)
DEFAULT_SHARD_SIZE = 32
# seconds of each stage attempt's commit and reveal phases: a stage of the default work trains
# in seconds, and a commit phase also closes as soon as 2C - 1 declarations are in
DEFAULT_COMMIT_WINDOW = 10 * 60
DEFAULT_REVEAL_WINDOW = 10 * 60
TEST_SET_FILE = "testset.npz"
MANIFEST_FILE = "manifest.json"


class JobError(ValueError):
    """A job cannot be prepared or acted on; the message is the reason for the user."""


class JobInputError(JobError):
    """The dataset, spec or terms are not acceptable (the caller's input)."""


class JobStateError(JobError):
    """The job on chain is not in the state the action needs (e.g. stages still open)."""


class JobNotFound(JobError):
    """No such job on this chain."""


class NotEmployerError(JobError):
    """Only the job's employer may do this."""


class TestSetNotHeld(JobError):
    """This machine does not hold the job's private test set."""


@dataclass(frozen=True)
class JobTerms:
    """What the employer offers: reward per confirmed declaration (wei), C, θ, deadline (unix s)."""

    reward_per_stage: int
    quorum: int
    theta: float
    deadline: int
    bounty: int = 0
    stage_flops: int = DEFAULT_STAGE_FLOPS
    shard_size: int = DEFAULT_SHARD_SIZE
    commit_window: int = DEFAULT_COMMIT_WINDOW
    reveal_window: int = DEFAULT_REVEAL_WINDOW


@dataclass(frozen=True)
class PreparedJob:
    """A stored job ready to escrow: ``params`` are the exact ``createJob`` arguments."""

    manifest: Manifest
    manifest_cid: str
    chunk_cids: list[str]
    params: "JobParams"
    train_samples: int
    test_set: datasets.Dataset = field(repr=False)   # private until publication
    test_set_path: Path

    @property
    def manifest_hash(self) -> bytes:
        return self.params.manifest_hash


def private_dir(settings: Settings, manifest_hash: bytes) -> Path:
    """The employer's private folder of one job (never served, never in the content store)."""
    return settings.state_dir / "private" / bytes(manifest_hash).hex()


def _test_commitments(settings: Settings, spec: ModelSpec, test: datasets.Dataset,
                      shard_size: int) -> tuple[datasets.Dataset, list[bytes], list[bytes]]:
    """The test set on the circuit's input grid, its shards' c_T (the zk pipeline, which sets
    the circuit up the first time) and the keccak256 of each shard's canonical bytes."""
    from zkpot import zk
    from zkpot.spec import build_model

    try:
        circuit = zk.ensure_circuit(build_model(spec), test.input_shape, test.num_classes,
                                    shard_size, settings)
    except zk.CircuitTooLarge as e:
        raise JobInputError(f"zk circuit: {e}") from e
    scale = circuit.params.scale
    grid = (testset.quantise(test.features, scale) / float(1 << scale)).astype(np.float32)
    test = datasets.Dataset(grid, test.labels, test.num_classes, test.input_shape)
    try:
        data = [testset.encode_shard(x, y, test.num_classes, scale) for x, y in zk.shards(circuit, grid, test.labels)]
    except testset.TestShardError as e:
        raise JobInputError(f"test set: {e}") from e
    from zkpot.hashing import keccak

    return test, zk.test_set_commitments(circuit, grid, test.labels), [keccak(d) for d in data]


def test_shards(settings: Settings, spec: ModelSpec, test: datasets.Dataset, shard_size: int) -> list[bytes]:
    """The canonical bytes of each shard of a (grid) test set, as ``publishTestShard`` posts them."""
    from zkpot import zk
    from zkpot.spec import build_model

    circuit = zk.ensure_circuit(build_model(spec), test.input_shape, test.num_classes, shard_size, settings)
    return [testset.encode_shard(x, y, test.num_classes, circuit.params.scale)
            for x, y in zk.shards(circuit, test.features, test.labels)]


def _write_private(path: Path, test: datasets.Dataset) -> None:
    """T as NPZ (x, y, num_classes), owner-only, written whole then renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    buf = io.BytesIO()
    np.savez(buf, x=test.features, y=test.labels, num_classes=np.int64(test.num_classes))
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(buf.getvalue())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_private_test_set(settings: Settings, manifest_hash: bytes) -> datasets.Dataset:
    """The job's private T; ``TestSetNotHeld`` when this machine did not prepare the job."""
    path = private_dir(settings, manifest_hash) / TEST_SET_FILE
    if not path.is_file():
        raise TestSetNotHeld(f"the test set of manifest 0x{bytes(manifest_hash).hex()} is not held "
                             f"here (expected {path}): publish it from the machine that created the job")
    with np.load(path, allow_pickle=False) as a:
        return datasets.validate(a["x"], a["y"], int(a["num_classes"]))


def prepare_job(settings: Settings, dataset: datasets.Dataset, spec: ModelSpec, terms: JobTerms,
                verifier: str | Callable[[], str]) -> PreparedJob:
    """Validate, split, chunk, commit and store a job; raise ``JobInputError`` with the reason.

    ``verifier`` is the accuracy verifier's address, or a function giving it that is called
    only once the input has passed every check (so bad input is reported before chain trouble).
    """
    from zkpot.chain import JobParams
    from zkpot.stage import initial_weights
    from zkpot.storage import open_store

    try:
        spec.check_against(dataset.input_shape, dataset.num_classes)
    except SpecError as e:
        raise JobInputError(f"spec does not fit the dataset: {e}") from e
    try:
        train, test = datasets.split(dataset, TEST_FRACTION, spec.seed)
    except datasets.DatasetError as e:
        raise JobInputError(f"dataset: {e}") from e
    usable = (len(test) // terms.shard_size) * terms.shard_size
    if usable == 0:
        raise JobInputError(f"the test split has {len(test)} samples, fewer than one proof shard of "
                            f"{terms.shard_size}: use more data or a smaller shard size")
    test = test.subset(np.arange(usable))
    try:
        chunks = staging.plan_stages(spec, len(train), terms.stage_flops, train.input_shape,
                                     train.num_classes)
    except staging.StagingError as e:
        raise JobInputError(f"stages: {e}") from e
    verifier = verifier() if callable(verifier) else verifier
    s0 = initial_weights(spec)
    test, commitments, data_hashes = _test_commitments(settings, spec, test, terms.shard_size)
    chunk_bytes = [datasets.encode_chunk(train.subset(idx)) for idx in chunks]
    from zkpot.storage import cid_v1

    chunk_cids = [cid_v1(b) for b in chunk_bytes]
    s0_bytes = s0.to_bytes()
    try:
        manifest = build_manifest(spec, train.input_shape, train.num_classes, chunk_cids,
                                  [len(c) for c in chunks], commitments, usable, terms.quorum,
                                  terms.reward_per_stage, terms.theta, terms.deadline,
                                  cid_v1(s0_bytes), s0.hash())
    except ManifestError as e:
        raise JobInputError(str(e)) from e
    # every check passed: keep T (and the manifest that says how it is sharded) privately,
    # then store what nodes need
    test_path = private_dir(settings, manifest.keccak()) / TEST_SET_FILE
    _write_private(test_path, test)
    (test_path.parent / MANIFEST_FILE).write_bytes(manifest.to_bytes())
    store = open_store(settings)
    for b in chunk_bytes:
        store.put(b)
    store.put(s0_bytes)
    manifest_cid = store.put(manifest.to_bytes())
    params = JobParams(manifest_hash=manifest.keccak(), manifest_cid=manifest_cid,
                       stages=manifest.stages, confirmations=terms.quorum,
                       reward=terms.reward_per_stage, bounty=terms.bounty,
                       threshold=math.ceil(terms.theta * usable), samples=usable,
                       shard_commitments=commitments, shard_data_hashes=data_hashes, verifier=verifier,
                       deadline=terms.deadline, commit_window=terms.commit_window,
                       reveal_window=terms.reveal_window)
    return PreparedJob(manifest, manifest_cid, chunk_cids, params, len(train), test, test_path)


@dataclass(frozen=True)
class TestSetRelease:
    """T's shards, as ``publishTestShard`` posts them; ``tx_hashes`` once sent."""

    job_id: int
    shards: list[bytes]
    samples: int
    tx_hashes: list[str] = field(default_factory=list)


def _chain_time(escrow: "JobEscrowClient") -> int:
    w3 = escrow.client.w3
    return int(escrow.client.rpc(lambda: w3.eth.get_block("latest"))["timestamp"])


def release_test_set(settings: Settings, escrow: "JobEscrowClient", job_id: int,
                     employer: str) -> TestSetRelease:
    """Check that ``employer`` may publish T now; T's shards as the chain committed them."""
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
    if _chain_time(escrow) >= job.phase_deadline:
        raise JobStateError(f"job {job_id}'s test-set window closed at {job.phase_deadline}")
    test = load_private_test_set(settings, job.manifest_hash)
    manifest = _held_manifest(settings, job.manifest_hash)
    shards = test_shards(settings, manifest.model_spec, test, job.samples // job.shard_count)
    if [keccak(s) for s in shards] != escrow.shard_data_hashes(job_id):
        raise TestSetNotHeld(f"the private test set held here is not the one job {job_id} committed to")
    return TestSetRelease(job_id, shards, len(test))


def _held_manifest(settings: Settings, manifest_hash: bytes) -> Manifest:
    path = private_dir(settings, manifest_hash) / MANIFEST_FILE
    if not path.is_file():
        raise TestSetNotHeld(f"the manifest of 0x{bytes(manifest_hash).hex()} is not held here")
    return Manifest.from_bytes(path.read_bytes())


def publish_test_set(settings: Settings, client: "JobEscrowClient", job_id: int) -> TestSetRelease:
    """Post T's shards on chain (``publishTestShard``) as ``client``'s key; shards the chain
    already holds are not sent again."""
    release = release_test_set(settings, client, job_id, client.client.address)
    posted = client.get_job(job_id).shards_published
    txs = [client.publish_test_shard(job_id, i, data).tx_hash
           for i, data in enumerate(release.shards) if i >= posted]
    return TestSetRelease(job_id, release.shards, release.samples, txs)


# ---- curves ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class StageMetrics:
    """S_i evaluated in float: mean cross-entropy on its chunk B_i, accuracy on the eval set."""

    stage: int
    weights_cid: str
    mean_loss: float
    accuracy: float


def stage_metrics(spec: ModelSpec, state: bytes, chunk: datasets.Dataset,
                  eval_set: datasets.Dataset) -> tuple[float, float]:
    """(mean loss on ``chunk``, accuracy on ``eval_set``) of the float model with ``state``."""
    import torch

    from zkpot.stage import evaluate, float_model

    with torch.no_grad():
        logits = float_model(spec, state)(torch.as_tensor(chunk.features))
        loss = torch.nn.functional.cross_entropy(logits, torch.as_tensor(chunk.labels)).item()
    return float(loss), evaluate(spec, state, eval_set.features, eval_set.labels)


@dataclass
class Curves:
    """Per-stage metrics of a job; stages that could not be evaluated carry their reason."""

    evaluated_on: str
    points: list[StageMetrics] = field(default_factory=list)
    unavailable: dict[int, str] = field(default_factory=dict)


def _cache_path(settings: Settings, weights_cid: str, eval_key: str) -> Path:
    return settings.path("cache") / "curves" / f"{weights_cid}.{eval_key}.json"


def job_curves(settings: Settings, manifest: Manifest, finalised: Sequence[tuple[int, bytes, str]],
               test_set: tuple[str, datasets.Dataset] | None = None, compute: bool = True) -> Curves:
    """Metrics of each finalised ``(stage, weights_hash, weights_cid)``, cached per weights CID.

    Each S_i is fetched by its CID (the store checks the content against the CID) and its
    keccak hash checked against the hash finalised on chain before it is evaluated. Accuracy is
    on the posted test set when there is one (``(key, dataset)``: the key names the cache),
    else on the training chunks. ``compute=False`` answers from the cache only.
    """
    from zkpot.hashing import weights_hash
    from zkpot.storage import StorageError, open_store

    store = open_store(settings)
    eval_key, evaluated_on = ("test-" + test_set[0], "test set") if test_set else ("train", "training set")
    out = Curves(evaluated_on)
    data: dict[str, datasets.Dataset] = {}

    def chunk(cid: str) -> datasets.Dataset:
        if cid not in data:
            data[cid] = datasets.decode_chunk(store.get(cid))
        return data[cid]

    eval_set = None
    for stage, w_hash, w_cid in sorted(finalised):
        path = _cache_path(settings, w_cid, eval_key)
        if path.is_file():
            out.points.append(StageMetrics(**json.loads(path.read_text())))
            continue
        if not compute:
            out.unavailable[stage] = "not evaluated yet"
            continue
        if not 1 <= stage <= manifest.stages:
            out.unavailable[stage] = f"stage {stage} is not in the manifest"
            continue
        try:
            state = store.get(w_cid)
            if weights_hash(state) != bytes(w_hash):
                out.unavailable[stage] = "weights do not match the hash finalised on chain"
                continue
            if eval_set is None:
                eval_set = (test_set[1] if test_set
                            else _union([chunk(c) for c in dict.fromkeys(manifest.chunks)]))
            loss, acc = stage_metrics(manifest.model_spec, state, chunk(manifest.chunks[stage - 1]), eval_set)
        except (KeyError, StorageError, datasets.DatasetError, OSError, ValueError) as e:
            out.unavailable[stage] = f"cannot evaluate: {e}"
            continue
        point = StageMetrics(stage, w_cid, loss, acc)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.{time.monotonic_ns()}")
        tmp.write_text(json.dumps(point.__dict__))
        os.replace(tmp, path)
        out.points.append(point)
    return out


def _union(parts: list[datasets.Dataset]) -> datasets.Dataset:
    """The distinct training samples across the chunks (chunks repeat samples over epochs)."""
    x = np.concatenate([p.features for p in parts])
    y = np.concatenate([p.labels for p in parts])
    flat = np.concatenate([x.reshape(len(x), -1), y[:, None].astype(np.float32)], axis=1)
    _, first = np.unique(flat, axis=0, return_index=True)
    keep = np.sort(first)
    return datasets.Dataset(x[keep], y[keep], parts[0].num_classes, parts[0].input_shape)
