"""The final stage's accuracy proof, for a node: circuit, prove per shard, submit per shard.

After the last stage is final the employer publishes the test set (``TestSetPublished``); a
node that holds the final model proves, shard by shard, how many test samples it classifies
correctly (``zkpot.zk``) and submits each proof the chain has not accepted yet. Proofs are
kept under the node's folder until submitted, so a restart does not prove twice.
"""

from __future__ import annotations

import json
from pathlib import Path

ZERO = "0x0000000000000000000000000000000000000000"


def circuit_for(node, manifest):
    """The cached circuit for the job's architecture and shard size (set up on first use)."""
    from zkpot.spec import build_model
    from zkpot.zk import ensure_circuit

    shards = max(1, len(manifest.test_commitments))
    n = max(1, manifest.test_size // shards)
    return ensure_circuit(build_model(manifest.model_spec), tuple(manifest.input_shape),
                          manifest.num_classes, n, node.settings)


def _proof_dir(node, job_id: int) -> Path:
    path = node.store.folder / "proofs" / f"job{job_id}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _open_shards(node, job_id: int) -> list[int]:
    escrow = node.chain.escrow
    count = len(escrow.shard_commitments(job_id))
    return [s for s in range(count) if escrow.shard_submitter(job_id, s) in (ZERO, None)]


def plan(node, job, plan) -> None:
    """Enqueue proving when the test set is out, and submitting for proofs already made."""
    from zkpot.chain import JobStatus
    from zkpot.node.work import Step

    if job.status != JobStatus.PROVING:
        return
    if node.chain.test_set_cid(job.job_id) is None:
        return
    shards = _open_shards(node, job.job_id)
    if not shards:
        return
    folder = _proof_dir(node, job.job_id)
    if all((folder / f"shard{s}.json").exists() for s in shards):
        plan.steps.append(Step("submit", job.job_id))
    else:
        plan.steps.append(Step("prove", job.job_id))


def prove(node, job_id: int) -> str:
    """Prove every open shard with the final model (the state finalised for the last stage)."""
    from zkpot.datasets import DatasetError, decode_chunk
    from zkpot.node.training import _fetch, load_manifest
    from zkpot.node.work import Skipped
    from zkpot.stage import weights_to_float_state_dict
    from zkpot.zk import prove_accuracy, shards as split_shards

    job = node.chain.job(job_id)
    cid = node.chain.test_set_cid(job_id)
    if cid is None:
        raise Skipped("the test set is not published yet")
    manifest = load_manifest(node, job)
    final = node.chain.finalised(job_id, job.stages)
    if final is None:
        raise Skipped("the last stage is not final")
    weights = _fetch(node, final[1], "final weights")
    try:
        test = decode_chunk(_fetch(node, cid, "test set"))
    except DatasetError as exc:
        raise Skipped(f"test set: {exc}") from None
    circuit = circuit_for(node, manifest)
    state = weights_to_float_state_dict(weights)
    folder = _proof_dir(node, job_id)
    open_shards = _open_shards(node, job_id)
    made = 0
    for index, (xs, ys) in enumerate(split_shards(circuit, test.features, test.labels)):
        path = folder / f"shard{index}.json"
        if index not in open_shards or path.exists():
            continue
        node.store.set_progress(f"job{job_id}-proof", "prove", index, len(open_shards))
        proof = prove_accuracy(circuit, state, xs, ys)
        from zkpot.node.store import write_durably

        write_durably(path, json.dumps({"proof": proof.proof.hex(),
                                        "instances": [str(v) for v in proof.instances],
                                        "correct": proof.correct}).encode())
        made += 1
    node.store.clear_progress(f"job{job_id}-proof")
    return f"proved {made} shard(s)"


def submit(node, job_id: int) -> str:
    """Submit the kept proofs of shards the chain has not accepted yet."""
    folder = _proof_dir(node, job_id)
    sent = 0
    for shard in _open_shards(node, job_id):
        path = folder / f"shard{shard}.json"
        if not path.exists():
            continue
        data = json.loads(path.read_text())
        if node.chain.submit_proof(job_id, shard, bytes.fromhex(data["proof"]),
                                   [int(v) for v in data["instances"]]):
            sent += 1
    return f"submitted {sent} proof(s)"
