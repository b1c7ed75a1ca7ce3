"""Employer-side helpers for the worker tests: a tiny real job, stored and escrowed on Anvil."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zkpot.chain import ChainClient, JobEscrowClient, JobParams
from zkpot.datasets import Dataset, encode_chunk
from zkpot.hashing import keccak
from zkpot.manifest import build_manifest
from zkpot.spec import ModelSpec
from zkpot.stage import initial_weights
from zkpot.storage import LocalStore

# a linear classifier on 4 features, 3 classes: a stage of 8 samples trains in well under 1 s
TINY_SPEC = {"layers": [{"type": "Linear", "in_features": 4, "out_features": 3}],
             "optimizer": {"type": "sgd", "lr": 0.1}, "batch_size": 4, "seed": 5}
SAMPLES_PER_STAGE = 8
TEST_SIZE = 4
# the bytes the tiny job commits to as its one test shard (posted with publishTestShard)
TINY_SHARD = b"tiny test shard bytes"


@dataclass(frozen=True)
class TinyJob:
    job_id: int
    manifest_cid: str
    chunk_cids: list[str]
    stages: int
    confirmations: int
    reward: int


def tiny_shard(i: int) -> bytes:
    """The bytes posted as test shard ``i`` (shard 0: ``TINY_SHARD``)."""
    return TINY_SHARD if i == 0 else TINY_SHARD + bytes([i])


def tiny_shard_commitment(i: int) -> bytes:
    """Shard ``i``'s test-set commitment (shard 0: keccak of b"tiny test shard")."""
    return keccak(b"tiny test shard" + (bytes([i]) if i else b""))


def tiny_dataset(n: int, seed: int = 1) -> Dataset:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(n, 4)).astype(np.float32)
    y = (np.argmax(x[:, :3], axis=1)).astype(np.int64)
    return Dataset(x, y, 3, (4,))


def create_tiny_job(rpc_url: str, employer_key: str, deployment, store: LocalStore, *,
                    stages: int = 2, confirmations: int = 2, reward: int = 10**15,
                    corrupt_chunk: int | None = None, deadline_s: int = 3600,
                    samples_per_stage: int = SAMPLES_PER_STAGE, commit_window: int = 120,
                    reveal_window: int = 120, shards: int = 1,
                    wrong_width_chunk: int | None = None, verifier: str | None = None,
                    samples: int | None = None) -> TinyJob:
    """Chunks, S_0 and the manifest into the shared store, then ``createJob`` with escrow.

    ``corrupt_chunk``: overwrite that stage's stored chunk with other bytes (a CID mismatch).
    ``wrong_width_chunk``: store that stage's chunk with 5 features instead of the spec's 4 (its
    CID matches, and the stage function fails on it every time). ``shards``: test-set shards
    (``tiny_shard(i)`` each). ``verifier``, ``samples``: what a hostile employer sets on chain
    instead of the deployment's verifier and the manifest's test-set size.
    """
    spec = ModelSpec.from_json(TINY_SPEC)
    n = samples_per_stage
    data = tiny_dataset(stages * n)
    chunks = [encode_chunk(data.subset(np.arange(i * n, (i + 1) * n))) for i in range(stages)]
    if wrong_width_chunk is not None:
        first = data.subset(np.arange(n))
        wide = np.hstack([first.features, first.features[:, :1]]).astype(np.float32)
        chunks[wrong_width_chunk - 1] = encode_chunk(Dataset(wide, first.labels, 3, (5,)))
    cids = [store.put(c) for c in chunks]
    if corrupt_chunk is not None:
        path = store.root / cids[corrupt_chunk - 1]
        path.write_bytes(chunks[corrupt_chunk - 1][:-4] + b"\x00\x00\x80\x7f")
    s0 = initial_weights(spec).to_bytes()
    s0_cid = store.put(s0)
    commitments = [tiny_shard_commitment(i) for i in range(shards)]
    escrow = JobEscrowClient(ChainClient(rpc_url, employer_key), deployment.escrow)
    deadline = escrow.client.chain_time() + deadline_s   # the dev chain's clock may run ahead
    manifest = build_manifest(spec, (4,), 3, cids, [n] * stages, commitments,
                              TEST_SIZE * shards, confirmations, reward, 0.5, deadline, s0_cid, keccak(s0))
    manifest_cid = store.put(manifest.to_bytes())
    params = JobParams(manifest_hash=manifest.keccak(), manifest_cid=manifest_cid, stages=stages,
                       confirmations=confirmations, reward=reward, bounty=0, threshold=1,
                       samples=samples or TEST_SIZE * shards, shard_commitments=commitments,
                       shard_data_hashes=[keccak(tiny_shard(i)) for i in range(shards)],
                       verifier=verifier or deployment.verifier, deadline=deadline, commit_window=commit_window,
                       reveal_window=reveal_window)
    job_id = escrow.create_job(params)
    return TinyJob(job_id, manifest_cid, cids, stages, confirmations, reward)
