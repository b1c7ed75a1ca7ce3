"""Training one stage for a node: fetch and verify the inputs, run the core stage function.

Everything fetched is checked before any training: the manifest against the hash the job
escrowed on-chain (and its own validation), each chunk against its CID, the previous state
against the weights hash the chain finalised. A failure is a ``Skipped`` with the reason.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable

from zkpot.hashing import commitment, keccak, random_rand

HEARTBEAT_EVERY = 5.0  # seconds between lease heartbeats while the stage trains


@dataclass(frozen=True)
class TrainedStage:
    weights: bytes
    weights_hash: bytes
    model_commitment: int
    rho: bytes


def new_rand() -> bytes:
    return random_rand()


def commit(result: "TrainedStage", rand: bytes, address: str) -> bytes:
    """The declaration: one hash binding ρ, H(S), h_W, rand and this node (nothing copyable)."""
    return commitment(result.rho, result.weights_hash, result.model_commitment, rand, address)


def load_manifest(node, job):
    """The job's manifest, verified against the escrowed hash and validated."""
    from zkpot.manifest import Manifest, ManifestError
    from zkpot.node.work import Skipped
    from zkpot.storage import StorageError

    cid = node.chain.manifest_cid(job.job_id)
    if cid is None:
        raise Skipped("the job's manifest CID is unknown (JobCreated not seen)")
    try:
        data = node.content.get(cid)
    except StorageError as exc:  # ContentMismatch included
        raise Skipped(f"manifest {cid}: {exc}") from None
    except KeyError:
        raise Skipped(f"manifest {cid} is not in storage") from None
    if keccak(data) != job.manifest_hash:
        raise Skipped("manifest bytes do not match the manifest hash escrowed on-chain")
    try:
        return Manifest.from_bytes(data)
    except ManifestError as exc:
        raise Skipped(str(exc)) from None


def _fetch(node, cid: str, what: str) -> bytes:
    from zkpot.node.work import Skipped
    from zkpot.storage import StorageError

    try:
        return node.content.get(cid)
    except StorageError as exc:
        raise Skipped(f"{what} {cid}: {exc}") from None
    except KeyError:
        raise Skipped(f"{what} {cid} is not in storage") from None


def previous_state(node, job, manifest, stage: int) -> bytes:
    """S_{stage-1}: the manifest's S_0, else the state the chain finalised for stage-1."""
    from zkpot.node.work import Skipped

    if stage == 1:
        data = _fetch(node, manifest.initial_weights_cid, "initial weights")
        expected = bytes.fromhex(manifest.initial_weights_hash[2:])
    else:
        final = node.chain.finalised(job.job_id, stage - 1)
        if final is None:
            raise Skipped(f"stage {stage - 1} is not final yet")
        expected, cid = final
        data = _fetch(node, cid, f"weights of stage {stage - 1}")
    if keccak(data) != expected:
        raise Skipped(f"state S_{stage - 1} does not match its hash")
    return data


def run_stage(node, job, stage: int, attempt: int, beat: Callable[[int, int], None],
              device: str = "cpu") -> TrainedStage:
    """Verify inputs, train the stage's ``attempt`` (heartbeating the lease) in that attempt's
    order (``zkpot.pot.attempts``), compute h_W for the last stage."""
    from zkpot.datasets import DatasetError, decode_chunk
    from zkpot.node.work import Skipped
    from zkpot.pot.attempts import attempt_inputs
    from zkpot.stage import StageError, train_stage

    manifest = load_manifest(node, job)
    if manifest.stages != job.stages or stage > manifest.stages:
        raise Skipped(f"manifest has {manifest.stages} stages, the job {job.stages}")
    if manifest.replication != job.confirmations:
        raise Skipped("manifest replication C differs from the job's")
    state = previous_state(node, job, manifest, stage)
    try:
        chunk = decode_chunk(_fetch(node, manifest.chunks[stage - 1], f"chunk B_{stage}"))
    except DatasetError as exc:
        raise Skipped(f"chunk B_{stage}: {exc}") from None

    stop = threading.Event()
    total = len(chunk)

    def heartbeat() -> None:
        while not stop.wait(HEARTBEAT_EVERY):
            beat(0, total)

    beat(0, total)
    pulse = threading.Thread(target=heartbeat, daemon=True)
    pulse.start()
    spec = manifest.model_spec
    x, y, seed = attempt_inputs(chunk.features, chunk.labels, spec.seed, stage, attempt)
    try:
        result = train_stage(spec, state, (x, y), stage, seed=seed, device=_torch_device(device))
    except StageError as exc:
        raise Skipped(f"stage function refused the inputs: {exc}") from None
    finally:
        stop.set()
        pulse.join()
    beat(total, total)
    h_w = model_commitment(node, manifest, result.state_bytes) if stage == manifest.stages else 0
    return TrainedStage(result.state_bytes, result.weights_hash, h_w, result.rho)


def model_commitment(node, manifest, state_bytes: bytes) -> int:
    """h_W of the final model, as its zk proofs state it: the commitment of the certified model
    that S_t's Q20 integers map to exactly (``zkpot.certified.certify_fixed_point``).

    Intermediate stages declare 0: only the final model is ever proven, and the keccak weights
    hash already binds every stage.
    """
    from zkpot.node.proving import circuit_for
    from zkpot.zk import weights_commitment

    return weights_commitment(circuit_for(node, manifest), state_bytes)


def _torch_device(device: str) -> str:
    return "cuda" if device == "gpu" else "cpu"
