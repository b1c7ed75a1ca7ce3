"""The employer's audit of a delegated job: recompute from the data what the chain holds.

``audit_job`` downloads the job's manifest and final model (S_t, from the content store by the
CID that finalised the last stage) and its test set (the shards posted on chain as call data,
or a local copy), then recomputes and compares with the chain:

- the manifest's keccak256 with the escrowed manifest hash;
- H(S_t) with the last stage's finalised weights hash, and h_W of the certified model of S_t
  (its exact mapping from the Q20 integers, docs/zk.md) with the job's final model commitment;
- each shard's keccak256 with the data hash fixed at ``createJob``, and its c_T with the
  shard's test-set commitment;
- each accepted proof (read from its ``submitAccuracyProof`` transaction), verified off-chain
  against the recomputed h_W and c_T, and its count with the reference count of that shard;
- the summed reference count with the escrow's count, and the job's outcome with θ;
- the job's verifier contract with the circuit: VKA and verifier code recomputed from the
  circuit and its SRS, SRS hash, statement, margin and shard size (``zk.evm.check_verifier``).

Every comparison is a ``Check`` (what, chain's value, recomputed value, ok); nothing is
trusted because it came from the chain or the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from zkpot.chain import JobEscrowClient, JobStatus, fetch_events
from zkpot.hashing import keccak
from zkpot.manifest import Manifest, ManifestError, correct_threshold
from zkpot.storage import StorageError


class AuditError(RuntimeError):
    """The job cannot be audited yet, or at all (no such job, its test set not posted)."""


@dataclass(frozen=True)
class Check:
    """One comparison: the chain's value and the recomputed one."""

    what: str
    chain: str
    recomputed: str
    ok: bool


@dataclass
class JobAudit:
    """The audit of one job: every check, and the counts (reference and, labelled, float)."""

    job_id: int
    checks: list[Check] = field(default_factory=list)
    reference_counts: list[int] = field(default_factory=list)
    float_count: int | None = None

    @property
    def matched(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def mismatches(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def add(self, what: str, chain, recomputed, ok: bool | None = None) -> bool:
        ok = chain == recomputed if ok is None else ok
        self.checks.append(Check(what, _show(chain), _show(recomputed), bool(ok)))
        return bool(ok)


def _show(value) -> str:
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1 << 64:
        return hex(value)
    return str(value)


def _get(store, cid: str, what: str, audit: JobAudit) -> bytes | None:
    try:
        return store.get(cid)
    except (StorageError, KeyError) as exc:   # ContentMismatch: bytes that are not the CID's
        audit.add(f"{what} downloaded by its CID", cid, f"unavailable: {exc}", ok=False)
        return None


def posted_shards(escrow: JobEscrowClient, events, job_id: int) -> dict[int, bytes]:
    """Shard index -> the bytes its ``publishTestShard`` transaction posted (public call data)."""
    posted = {}
    for ev in events:
        if ev.name == "TestShardPublished" and ev["jobId"] == job_id:
            posted[ev["shard"]] = escrow.test_shard_data(ev.tx_hash)[2]
    return posted


def local_shards(circuit, test, num_classes: int) -> dict[int, bytes]:
    """Shard index -> canonical bytes of a local test set (x, y), cut as the job cuts it."""
    from zkpot import zk
    from zkpot.testset import encode_shard

    return {i: encode_shard(xs, ys, num_classes, circuit.params.scale)
            for i, (xs, ys) in enumerate(zk.shards(circuit, test.features, test.labels))}


def audit_job(settings, client, deployment, job_id: int, store, *, model: bytes | None = None,
              test_set=None, verifier: bool = True) -> JobAudit:
    """Recompute the job's h_W, c_T, counts and proofs from its data and compare them with the
    chain. ``model`` (S_t's bytes) and ``test_set`` (a ``Dataset``) audit local copies instead
    of the downloaded ones; ``verifier=False`` skips recompiling the verifier contract."""
    from zkpot import zk
    from zkpot.spec import build_model
    from zkpot.stage import TrainingState, weights_to_float_state_dict
    from zkpot.testset import TestShardError, decode_shard

    escrow = JobEscrowClient(client, deployment.escrow)
    job = escrow.get_job(job_id)
    if job.status == JobStatus.NONE:
        raise AuditError(f"no job {job_id} on this chain")
    if job.status in (JobStatus.TRAINING,):
        raise AuditError(f"job {job_id} is still training: there is no final model yet")
    audit = JobAudit(job_id)
    events = [e for e in fetch_events(client, deployment, deployment.block or 0)
              if e.args.get("jobId") == job_id]

    created = next(e for e in events if e.name == "JobCreated")
    raw = _get(store, created["manifestCid"], "manifest", audit)
    if raw is None:
        return audit
    try:
        manifest = Manifest.from_bytes(raw)
    except ManifestError as exc:
        audit.add("manifest parses", "a manifest", f"not one: {exc}", ok=False)
        return audit
    audit.add("manifest hash", bytes(job.manifest_hash), manifest.keccak())
    circuit = zk.job_circuit(manifest, settings, client.chain_id)

    final = next((e for e in events if e.name == "StageFinalised" and e["stage"] == job.stages), None)
    if final is None:
        raise AuditError(f"job {job_id}: the last stage is not final")
    state = model if model is not None else _get(store, final["cid"], "final model S_t", audit)
    if state is None:
        return audit
    audit.add("H(S_t), the final weights hash", bytes(final["weightsHash"]), keccak(bytes(state)))
    try:
        h_w = zk.weights_commitment(circuit, bytes(state))
    except Exception as exc:     # not a PoT state of this architecture, or out of the range
        audit.add("h_W of the certified model of S_t", job.final_model_commitment,
                  f"none: {exc}", ok=False)
        return audit
    audit.add("h_W of the certified model of S_t", job.final_model_commitment, h_w)
    audit.add("h_W declared by the last stage", int(final["modelCommitment"]), h_w)

    if test_set is not None:
        shard_bytes = local_shards(circuit, test_set, manifest.num_classes)
    else:
        shard_bytes = posted_shards(escrow, events, job_id)
        if len(shard_bytes) < job.shard_count:
            raise AuditError(f"job {job_id}: {len(shard_bytes)} of {job.shard_count} test shards "
                             f"posted; audit it with a local copy of the test set (--test-set)")
    data_hashes = escrow.shard_data_hashes(job_id)
    commitments = escrow.shard_commitments(job_id)
    audit.add("number of test shards", job.shard_count, len(shard_bytes))
    decoded: dict[int, object] = {}
    c_t: dict[int, bytes] = {}
    for i in range(job.shard_count):
        data = shard_bytes.get(i)
        if data is None:
            continue
        audit.add(f"shard {i}: data hash", data_hashes[i], keccak(data))
        try:
            decoded[i] = decode_shard(data)
        except TestShardError as exc:
            audit.add(f"shard {i}: canonical bytes", "a test shard", f"not one: {exc}", ok=False)
            continue
        c_t[i] = zk.test_set_commitment(circuit, decoded[i].x, decoded[i].labels)
        audit.add(f"shard {i}: c_T", commitments[i], c_t[i])

    for i, shard in decoded.items():
        audit.reference_counts.append(zk.reference_count(circuit, bytes(state), shard.x, shard.labels))
    counts = dict(zip(decoded, audit.reference_counts))
    if decoded:
        X = np.concatenate([s.x for s in decoded.values()])
        y = np.concatenate([s.labels for s in decoded.values()])
        net = build_model(manifest.model_spec)
        audit.float_count = zk.count_float(
            net, X, y, weights_to_float_state_dict(TrainingState.from_bytes(bytes(state))))

    accepted = [e for e in events if e.name == "AccuracyProofAccepted"]
    for ev in accepted:
        shard = ev["shard"]
        _, _, proof_bytes, instances = escrow.accuracy_proof(ev.tx_hash)
        proof = zk.AccuracyProof.of(proof_bytes, instances)
        if shard in c_t:
            ok = zk.verify(circuit, proof, model_commitment=h_w, test_set_commitment=c_t[shard])
            audit.add(f"shard {shard}: accepted proof verifies off-chain (recomputed h_W, c_T)",
                      "accepted", "verifies" if ok else "does not verify", ok=ok)
        audit.add(f"shard {shard}: proven count = reference count", int(ev["correctCount"]),
                  counts.get(shard, "no shard data"))
    if len(accepted) == job.shard_count and len(counts) == job.shard_count:
        total = sum(counts.values())
        audit.add("correct count (escrow) = reference count", job.correct_count, total)
        threshold = correct_threshold(manifest.theta_bps, manifest.test_size)
        audit.add("threshold ⌈θ·|T|⌉", job.threshold, threshold)
        expected = JobStatus.COMPLETED if total >= job.threshold else JobStatus.FAILED
        if job.status in (JobStatus.COMPLETED, JobStatus.FAILED):
            audit.add("outcome", job.status.name, expected.name)

    if verifier:
        from zkpot.zk.evm import check_verifier

        check = check_verifier(client, job.verifier, circuit)
        for name in ("vka_hash", "srs_hash", "statement_hash", "margin_steps", "shard_size",
                     "verifier_code"):
            expected_value, deployed = getattr(check, name)
            audit.add(f"verifier {job.verifier}: {name.replace('_', ' ')}", deployed, expected_value)
    return audit


__all__ = ["AuditError", "Check", "JobAudit", "audit_job", "local_shards", "posted_shards"]
