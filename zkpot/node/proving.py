"""The final stage's accuracy proof, for a node: circuit, prove per shard, submit per shard.

After the last stage is final the employer posts the test set on chain, shard by shard
(``TestShardPublished``, the canonical bytes of ``zkpot.testset`` as call data, checked by the
escrow against the hashes fixed at job creation); a node proves, shard by shard, how many test
samples the final model classifies correctly (``zkpot.zk``) and submits each proof the chain
has not accepted yet. The escrow takes a proof from anyone, but the bounty goes to the job's
finalists (the last stage's paid nodes), so they are the ones who prove. A shard is proven at
once only by its designated prover; the other finalists stand by for ``prove_grace_s`` of
chain time and prove it only if it is still unproven then (``zkpot.node.strategy.proof_turn``).
What is fixed once the test set is out (the test set, the finalists, the shard count) is read
once per step; whether a shard is proven, and the chain's time, are read again before each
shard is proven and before each proof is submitted.
Proofs are kept under the node's folder until submitted, so a restart does not prove twice.
A proof the chain rejects (``ProofRejected``, ``TestSetMismatch``, ``ModelMismatch`` …) is a
final outcome for that (job, shard): recorded in the node store with the reason, logged once,
its file renamed ``shard<i>.rejected.json``, and neither resubmitted nor proven again (the final
model and the test set cannot change, so a new proof would be the same).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from zkpot.chain import ContractError, JobStatus
from zkpot.node.chainview import PROOF_REJECTIONS, PublishedTestSet
from zkpot.node.inputs import circuit_for, fetch, load_manifest
from zkpot.node.outcomes import Outcome, Skipped, Step, done, nothing
from zkpot.node.store import write_durably
from zkpot.node.strategy import ProofTurn, proof_turn

log = logging.getLogger("zkpot.node")

ZERO = "0x0000000000000000000000000000000000000000"


def _proof_dir(node, job_id: int) -> Path:
    path = node.store.folder / "proofs" / f"job{job_id}"
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass(frozen=True)
class ProvingRound:
    """What is fixed once a job's test set is out, read once per step: the published test set,
    the finalists (the last stage's paid nodes) and the number of shards."""

    test_set: PublishedTestSet
    finalists: list[str]
    shards: int


def proving_round(node, job) -> ProvingRound | None:
    """The job's proving round, or None before its test set is published."""
    test_set = node.chain.test_set(job.job_id)
    if test_set is None:
        return None
    return ProvingRound(test_set, node.chain.finalists(job.job_id, job.stages, job.confirmations),
                        len(test_set.shards))


def _open_shards(node, job_id: int, shards: int) -> list[int]:
    """Shards with work left for this node: unproven on chain, and no proof of it rejected."""
    return [s for s in range(shards)
            if node.store.proof_rejection(job_id, s) is None and not _proven(node, job_id, s)]


def turns(node, job, rnd: ProvingRound, open_shards: list[int]) -> list[ProofTurn]:
    """This node's turn for each of the job's shards, at the chain's time now."""
    now = node.chain.chain_time()
    return [proof_turn(node.identity.address, job.job_id, shard, finalists=rnd.finalists,
                       published_at=rnd.test_set.published_at,
                       proof_deadline=rnd.test_set.proof_deadline, now=now,
                       grace_s=node.settings.prove_grace_s, proven=shard not in open_shards)
            for shard in range(rnd.shards)]


def _proven(node, job_id: int, shard: int) -> bool:
    return node.chain.escrow.shard_submitter(job_id, shard) not in (ZERO, None)


def plan(node, job, plan) -> None:
    """Enqueue proving for shards whose turn has come here, submitting for proofs made."""
    if job.status != JobStatus.PROVING:
        return
    rnd = proving_round(node, job)
    if rnd is None:
        return
    folder = _proof_dir(node, job.job_id)
    shards = _open_shards(node, job.job_id, rnd.shards)
    due, left = _due(node, job, rnd, folder, shards)
    if due:
        plan.steps.append(Step("prove", job.job_id))
    elif any((folder / f"shard{s}.json").exists() for s in shards):
        plan.steps.append(Step("submit", job.job_id))
    plan.skipped += [f"job {job.job_id} {why}" for why in left]


def _due(node, job, rnd: ProvingRound, folder: Path,
         open_shards: list[int] | None = None) -> tuple[list[int], list[str]]:
    """Shards to prove here now (open, this node's turn, no proof kept), and why others wait.
    Reads what moves: which shards are proven, and the chain's time."""
    if open_shards is None:
        open_shards = _open_shards(node, job.job_id, rnd.shards)
    due, left = [], []
    for turn in turns(node, job, rnd, open_shards):
        if turn.prove and not (folder / f"shard{turn.shard}.json").exists():
            due.append(turn.shard)
        elif not turn.prove and turn.not_before:
            left.append(f"shard {turn.shard}: {turn.reason}")
    return due, left


def prove(node, job_id: int) -> Outcome:
    """Prove the open shards whose turn has come here, with the final model (the state
    finalised for the last stage)."""
    from zkpot.testset import TestShardError, decode_shard
    from zkpot.zk import prove_accuracy

    job = node.chain.job(job_id)
    rnd = proving_round(node, job)
    if rnd is None:
        raise Skipped("the test set is not published yet")
    folder = _proof_dir(node, job_id)
    due, left = _due(node, job, rnd, folder)
    if not due:
        return nothing("nothing to prove here now" + (f": {'; '.join(left)}" if left else ""))
    manifest = load_manifest(node, job)
    final = node.chain.finalised(job_id, job.stages)
    if final is None:
        raise Skipped("the last stage is not final")
    weights = fetch(node, final[1], "final weights")
    try:
        test = [decode_shard(data) for data in rnd.test_set.shards]
    except TestShardError as exc:
        raise Skipped(f"test set: {exc}") from None
    circuit = circuit_for(node, manifest)
    state = weights                 # S_t: certified exactly from its Q20 integers
    made = 0
    for index, shard in enumerate(test):
        xs, ys = shard.x, shard.labels
        # read the chain again: proven meanwhile, or not this node's turn (yet) -> leave it
        due, left = _due(node, job, rnd, folder)
        if index not in due:
            continue
        node.store.set_progress(f"job{job_id}-proof", "prove", made, made + len(due))
        proof = prove_accuracy(circuit, state, xs, ys)
        write_durably(folder / f"shard{index}.json", json.dumps({"proof": proof.proof.hex(),
                                        "instances": [str(v) for v in proof.instances],
                                        "correct": proof.correct}).encode())
        made += 1
    node.store.clear_progress(f"job{job_id}-proof")
    return done(f"proved {made} shard(s)" + (f"; left {'; '.join(left)}" if left else ""))


def submit(node, job_id: int) -> Outcome:
    """Submit the kept proofs of shards the chain has not accepted yet; a proof the chain
    rejects is recorded and set aside, never sent again."""
    folder = _proof_dir(node, job_id)
    sent = rejected = 0
    shards = len(node.chain.escrow.shard_commitments(job_id))
    for shard in _open_shards(node, job_id, shards):
        path = folder / f"shard{shard}.json"
        if not path.exists() or _proven(node, job_id, shard):
            continue    # proven since the list was read (a later race reverts: not sent)
        data = json.loads(path.read_text())
        try:
            accepted = node.chain.submit_proof(job_id, shard, bytes.fromhex(data["proof"]),
                                               [int(v) for v in data["instances"]])
        except ContractError as exc:
            if exc.name not in PROOF_REJECTIONS:
                raise
            _reject(node, job_id, shard, path, str(exc))   # logs the reason, once
            rejected += 1
            continue
        sent += int(accepted)
    return (done if sent else nothing)(f"submitted {sent} proof(s)" + (f", {rejected} rejected" if rejected else ""))


def _reject(node, job_id: int, shard: int, path: Path, reason: str) -> None:
    """Record the chain's refusal first (it alone stops resubmission), then set the file aside."""
    node.store.reject_proof(job_id, shard, reason)
    aside = path.with_name(f"shard{shard}.rejected.json")
    os.replace(path, aside)
    log.warning("job %s shard %s: proof rejected by the chain: %s; not submitted again (kept as "
                "%s)", job_id, shard, reason, aside)
