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


def tiny_dataset(n: int, seed: int = 1) -> Dataset:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(n, 4)).astype(np.float32)
    y = (np.argmax(x[:, :3], axis=1)).astype(np.int64)
    return Dataset(x, y, 3, (4,))


def create_tiny_job(rpc_url: str, employer_key: str, deployment, store: LocalStore, *,
                    stages: int = 2, confirmations: int = 2, reward: int = 10**15,
                    corrupt_chunk: int | None = None, deadline_s: int = 3600,
                    samples_per_stage: int = SAMPLES_PER_STAGE, commit_window: int = 120,
                    reveal_window: int = 120) -> TinyJob:
    """Chunks, S_0 and the manifest into the shared store, then ``createJob`` with escrow.

    ``corrupt_chunk``: overwrite that stage's stored chunk with other bytes (a CID mismatch).
    """
    spec = ModelSpec.from_json(TINY_SPEC)
    n = samples_per_stage
    data = tiny_dataset(stages * n)
    chunks = [encode_chunk(data.subset(np.arange(i * n, (i + 1) * n))) for i in range(stages)]
    cids = [store.put(c) for c in chunks]
    if corrupt_chunk is not None:
        path = store.root / cids[corrupt_chunk - 1]
        path.write_bytes(chunks[corrupt_chunk - 1][:-4] + b"\x00\x00\x80\x7f")
    s0 = initial_weights(spec).to_bytes()
    s0_cid = store.put(s0)
    shard = keccak(b"tiny test shard")
    escrow = JobEscrowClient(ChainClient(rpc_url, employer_key), deployment.escrow)
    deadline = escrow.client.chain_time() + deadline_s   # the dev chain's clock may run ahead
    manifest = build_manifest(spec, (4,), 3, cids, [n] * stages, [shard],
                              TEST_SIZE, confirmations, reward, 0.5, deadline, s0_cid, keccak(s0))
    manifest_cid = store.put(manifest.to_bytes())
    params = JobParams(manifest_hash=manifest.keccak(), manifest_cid=manifest_cid, stages=stages,
                       confirmations=confirmations, reward=reward, bounty=0, threshold=1,
                       samples=TEST_SIZE, shard_commitments=[shard], shard_data_hashes=[keccak(TINY_SHARD)],
                       verifier=deployment.verifier, deadline=deadline, commit_window=commit_window,
                       reveal_window=reveal_window)
    job_id = escrow.create_job(params)
    return TinyJob(job_id, manifest_cid, cids, stages, confirmations, reward)
