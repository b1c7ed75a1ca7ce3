"""Job preparation: the create-job door's sequence of core calls.

split (seeded) → Δ chunks (``plan_stages``) → chunks and S_0 stored by CID → test-set shard
commitments (zk pipeline, circuit cached per architecture and shard size) → manifest stored →
``JobParams`` for ``createJob``. Every rule lives in the core; this module only orders the
calls and turns core errors into problems. Nothing is stored until every check has passed.
"""

from __future__ import annotations

import math

from api.problems import ProblemError
from zkpot import datasets, staging
from zkpot.config import Settings
from zkpot.manifest import ManifestError, build_manifest
from zkpot.spec import ModelSpec

TEST_FRACTION = 0.2


def _plan(spec: ModelSpec, train: datasets.Dataset, stage_flops: int):
    try:
        return staging.plan_stages(spec, len(train), stage_flops, train.input_shape, train.num_classes)
    except staging.StagingError as e:
        raise ProblemError(422, f"stages: {e}") from e


def _test_commitments(settings: Settings, spec: ModelSpec, test: datasets.Dataset, shard_size: int):
    """Shard commitments from the zk pipeline (sets up the circuit the first time)."""
    from zkpot import zk
    from zkpot.spec import build_model

    circuit = zk.ensure_circuit(build_model(spec), test.input_shape, test.num_classes, shard_size,
                                settings)
    return zk.test_set_commitments(circuit, test.features, test.labels)


def prepare(settings: Settings, *, spec: ModelSpec, dataset: datasets.Dataset, reward_per_stage: int,
            quorum: int, theta: float, deadline: int, bounty: int, stage_flops: int,
            shard_size: int, verifier: str):
    """Validate, chunk, commit and store; return (manifest, JobParams, chunk CIDs, sizes)."""
    from zkpot.chain import JobParams
    from zkpot.stage import initial_weights
    from zkpot.storage import open_store

    try:
        train, test = datasets.split(dataset, TEST_FRACTION, spec.seed)
    except datasets.DatasetError as e:
        raise ProblemError(422, f"dataset: {e}") from e
    usable = (len(test) // shard_size) * shard_size
    if usable == 0:
        raise ProblemError(422, f"the test split has {len(test)} samples, fewer than one proof shard "
                                f"of {shard_size}: upload more data or choose a smaller shard size")
    import numpy as np

    test = test.subset(np.arange(usable))
    chunks = _plan(spec, train, stage_flops)
    s0 = initial_weights(spec)
    commitments = _test_commitments(settings, spec, test, shard_size)
    chunk_bytes = [datasets.encode_chunk(train.subset(idx)) for idx in chunks]
    # every check passed: store
    store = open_store(settings)
    chunk_cids = [store.put(b) for b in chunk_bytes]
    s0_cid = store.put(s0.to_bytes())
    try:
        manifest = build_manifest(spec, train.input_shape, train.num_classes, chunk_cids,
                                  [len(c) for c in chunks], commitments, usable, quorum,
                                  reward_per_stage, theta, deadline, s0_cid, s0.hash())
    except ManifestError as e:
        raise ProblemError(422, str(e)) from e
    manifest_cid = store.put(manifest.to_bytes())
    params = JobParams(manifest_hash=manifest.keccak(), manifest_cid=manifest_cid,
                       stages=manifest.stages, confirmations=quorum, reward=reward_per_stage,
                       bounty=bounty, threshold=math.ceil(theta * usable), samples=usable,
                       shard_commitments=commitments, verifier=verifier, deadline=deadline)
    return manifest, params, chunk_cids, len(train)
