"""Training one stage for a node: fetch and verify the inputs, run the core stage function.

Everything fetched is checked before any training (``zkpot.node.inputs``). A failure is a
``Skipped`` with the reason.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable

from zkpot.datasets import DatasetError, decode_chunk
from zkpot.hashing import commitment, random_rand
from zkpot.node.inputs import check_terms, circuit_for, fetch, load_manifest, previous_state
from zkpot.node.outcomes import Skipped
from zkpot.pot.attempts import attempt_inputs

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


def run_stage(node, job, stage: int, attempt: int, beat: Callable[[int, int], None],
              device: str = "cpu") -> TrainedStage:
    """Verify inputs, train the stage's ``attempt`` (heartbeating the lease) in that attempt's
    order (``zkpot.pot.attempts``), compute h_W for the last stage."""
    from zkpot.stage import StageError, train_stage  # torch: only where training runs

    manifest = load_manifest(node, job)
    if manifest.stages != job.stages or stage > manifest.stages:
        raise Skipped(f"manifest has {manifest.stages} stages, the job {job.stages}")
    if manifest.replication != job.confirmations:
        raise Skipped("manifest replication C differs from the job's")
    check_terms(node, job, manifest)
    state = previous_state(node, job, manifest, stage)
    try:
        chunk = decode_chunk(fetch(node, manifest.chunks[stage - 1], f"chunk B_{stage}"))
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
        # the job's own inputs, refused the same way every time: a failure (counted, given up
        # after FAIL_LIMIT and shown by `zkpot node status`), not a skip retried for ever
        raise RuntimeError(f"stage function refused the inputs: {exc}") from None
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
    from zkpot.zk import weights_commitment

    return weights_commitment(circuit_for(node, manifest), state_bytes)


def _torch_device(device: str) -> str:
    return "cuda" if device == "gpu" else "cpu"
