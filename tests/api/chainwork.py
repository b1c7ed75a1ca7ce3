"""Real chain work for the API and dashboard tests: deploy, register nodes, declare, reveal.

Everything here is a transaction on Anvil through zkpot's chain client; nothing is faked.
Where a stage's declarers are fewer than 2C - 1 its commit window is let pass by moving the
dev chain's clock (``zkpot.chain.clock.DevChainClock``) instead of waiting it out.
"""

from __future__ import annotations

import os

from zkpot.chain import (ChainClient, JobEscrowClient, JobParams, JobStatus, NodeRegistryClient,  # noqa: F401
                         Opening, StagePhase, deploy_all)
from zkpot.config import Settings
from zkpot.chain.clock import DevChainClock
from zkpot.devnet import dev_private_keys
from zkpot.hashing import commitment, keccak

TEST_SHARD = b"the api tests' test shard"

KEYS = dev_private_keys(6)  # 0: employer/deployer, 1..: nodes


def deploy(settings: Settings):
    """Fresh JobEscrow + NodeRegistry + mock verifier; the map written where settings point."""
    client = ChainClient(settings.rpc_url, KEYS[0])
    return deploy_all(client, mock_verifier=True, path=settings.deployment_path)


def node_clients(settings: Settings, deployment, n: int) -> list[tuple[JobEscrowClient, NodeRegistryClient]]:
    out = []
    for key in KEYS[1:1 + n]:
        c = ChainClient(settings.rpc_url, key)
        out.append((JobEscrowClient(c, deployment.escrow), NodeRegistryClient(c, deployment.registry)))
    return out


def register(nodes) -> None:
    for _, reg in nodes:
        if not reg.is_active(reg.client.address):
            reg.register(reg.min_stake())


def create_job(settings: Settings, deployment, *, stages: int = 2, confirmations: int = 2,
               reward: int = 10**15, deadline_s: int = 3600, key: str = KEYS[0],
               manifest_cid: str = "bafkreitestmanifest", manifest_hash: bytes | None = None) -> int:
    """A job escrowed directly on the contract (the API's own path is tested elsewhere)."""
    escrow = JobEscrowClient(ChainClient(settings.rpc_url, key), deployment.escrow)
    params = JobParams(manifest_hash=manifest_hash or keccak(os.urandom(32)), manifest_cid=manifest_cid,
                       stages=stages, confirmations=confirmations, reward=reward, bounty=0,
                       threshold=1, samples=4, shard_commitments=[keccak(b"test set")],
                       shard_data_hashes=[keccak(TEST_SHARD)], verifier=deployment.verifier,
                       deadline=escrow.client.chain_time() + deadline_s)
    return escrow.create_job(params)


def declare_stage(nodes, job_id: int, stage: int, weights_hash: bytes, rho: bytes, cid: str,
                  model_commitment: int = 7) -> list[Opening]:
    """Every node declares the same result with its own rand (the commitment binds its address);
    returns each node's opening."""
    out = []
    for esc, _ in nodes:
        rand = os.urandom(32)
        node = esc.client.address
        esc.declare(job_id, stage, commitment(rho, weights_hash, model_commitment, rand, node))
        out.append(Opening(rho, weights_hash, model_commitment, rand, cid))
    return out


def close_commit_phase(settings: Settings, nodes, job_id: int) -> None:
    """Let the open attempt's commit window pass when it has not closed by count."""
    esc = nodes[0][0]
    a = esc.attempt_of(job_id)
    if a.phase == StagePhase.COMMIT:
        DevChainClock(esc.client).wait_until(a.commit_deadline)


def reveal_stage(settings: Settings, nodes, job_id: int, stage: int, openings) -> None:
    """Close the commit phase, then every node opens its declaration."""
    close_commit_phase(settings, nodes, job_id)
    for (esc, _), opening in zip(nodes, openings):
        esc.reveal(job_id, stage, opening)


def create_prepared_job(settings: Settings, deployment, *, dataset: str = "wine",
                        preset: str = "wine-mlp", stage_flops: int = 1_000_000, shard_size: int = 16,
                        confirmations: int = 2, reward: int = 10**15, key: str = KEYS[0]):
    """A job made by the core's ``prepare_job`` (private test set kept) and escrowed on chain."""
    from zkpot.datasets import demo_dataset
    from zkpot.escrow_preflight import EscrowPreflight
    from zkpot.jobs import JobTerms, prepare_job
    from zkpot.spec import preset as spec_preset

    escrow = JobEscrowClient(ChainClient(settings.rpc_url, key), deployment.escrow)
    terms = JobTerms(reward_per_declaration=reward, quorum=confirmations, theta=0.5,
                     deadline=escrow.client.chain_time() + 3600, stage_flops=stage_flops, shard_size=shard_size)
    employer = escrow.client.address
    prepared = prepare_job(settings, demo_dataset(dataset), spec_preset(preset), terms, employer,
                           EscrowPreflight(settings, employer))
    return escrow.create_job(prepared.params), prepared


def train_and_finalise(settings: Settings, deployment, nodes, job_id: int, manifest,
                       first: int = 1, last: int | None = None) -> list[str]:
    """Train stages first..last for real (``train_stage`` from the weights finalised before
    ``first``, S_0 for stage 1), store each S_i, declare its hash and ρ from every node and
    reveal; returns the weights CIDs."""
    from zkpot.chain import fetch_events
    from zkpot.datasets import decode_chunk
    from zkpot.stage import train_stage
    from zkpot.storage import open_store

    store = open_store(settings)
    cid = manifest.initial_weights_cid
    if first > 1:
        events = fetch_events(ChainClient(settings.rpc_url), deployment, deployment.block)
        cid = next(e["cid"] for e in events if e.name == "StageFinalised"
                   and e["jobId"] == job_id and e["stage"] == first - 1)
    state = store.get(cid)
    cids = []
    for i in range(first, (last or manifest.stages) + 1):
        result = train_stage(manifest.model_spec, state, decode_chunk(store.get(manifest.chunks[i - 1])), i)
        cid = store.put(result.state_bytes)
        openings = declare_stage(nodes, job_id, i, result.weights_hash, result.rho, cid)
        reveal_stage(settings, nodes, job_id, i, openings)
        state = result.state_bytes
        cids.append(cid)
    return cids
