"""What a node checks before it trains or proves: the job's inputs, each against the chain.

The manifest against the hash the job escrowed on-chain (and its own validation), each chunk
against its CID, the previous state against the weights hash the chain finalised, and the
circuit the job's accuracy is proven with. A failure is a ``Skipped`` with the reason.
"""

from __future__ import annotations

from zkpot.hashing import keccak
from zkpot.manifest import Manifest, ManifestError
from zkpot.node.outcomes import Skipped
from zkpot.storage import StorageError


def load_manifest(node, job):
    """The job's manifest, verified against the escrowed hash and validated."""
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


def fetch(node, cid: str, what: str) -> bytes:
    try:
        return node.content.get(cid)
    except StorageError as exc:
        raise Skipped(f"{what} {cid}: {exc}") from None
    except KeyError:
        raise Skipped(f"{what} {cid} is not in storage") from None


def previous_state(node, job, manifest, stage: int) -> bytes:
    """S_{stage-1}: the manifest's S_0, else the state the chain finalised for stage-1."""

    if stage == 1:
        data = fetch(node, manifest.initial_weights_cid, "initial weights")
        expected = bytes.fromhex(manifest.initial_weights_hash[2:])
    else:
        final = node.chain.finalised(job.job_id, stage - 1)
        if final is None:
            raise Skipped(f"stage {stage - 1} is not final yet")
        expected, cid = final
        data = fetch(node, cid, f"weights of stage {stage - 1}")
    if keccak(data) != expected:
        raise Skipped(f"state S_{stage - 1} does not match its hash")
    return data


def circuit_for(node, manifest):
    """The cached circuit for the job's architecture and shard size (set up on first use, for
    the node's chain id: a locally made SRS is refused off development chains)."""
    from zkpot.zk import job_circuit  # ezkl: only where circuits are made

    return job_circuit(manifest, node.settings, node.chain.client.chain_id)
