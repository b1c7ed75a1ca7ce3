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


def check_terms(node, job, manifest) -> None:
    """What an employer could set so that no accuracy proof is ever accepted, and the bounty
    returns to it after honest training (found by an attack): the shard commitments or the test
    set's size other than the manifest's, a sample count that is not the shards times the
    verifier's N, a threshold beyond the samples, or a verifier that is neither one this node's
    deployment map records nor an ``EzklAccuracyVerifier`` (the registry was one). ``Skipped``
    naming the first. The full check of a verifier against the job's circuit (statement,
    verifying key, SRS) is ``zkpot audit``; it needs the circuit set up."""
    from web3 import Web3
    from web3.exceptions import BadFunctionCallOutput

    from zkpot.chain import ChainError, ContractError
    from zkpot.zk.evm import ADAPTER_NAME

    shards = node.chain.escrow.shard_commitments(job.job_id)
    if ["0x" + c.hex() for c in shards] != [c.lower() for c in manifest.test_commitments]:
        raise Skipped("the job's test shard commitments on chain are not its manifest's")
    if job.samples != manifest.test_size or not 1 <= job.threshold <= job.samples:
        raise Skipped(f"the job proves {job.samples} test samples against a threshold of {job.threshold}; "
                      f"its manifest holds {manifest.test_size}")
    verifier = Web3.to_checksum_address(job.verifier)
    deployment = node.chain.deployment
    known = {Web3.to_checksum_address(a) for a in [*deployment.verifiers, deployment.verifier] if a}
    client = node.chain.client
    try:
        n = client.call(client.contract(ADAPTER_NAME, verifier).functions.shardSize())
    except (ContractError, BadFunctionCallOutput):   # no contract there, or another: no such view
        n = None
    except ChainError:
        raise                    # the RPC is down: a failure, retried; never a skip kept for good
    if n is None:
        if verifier not in known:
            raise Skipped(f"the job's accuracy verifier {verifier} is not an EzklAccuracyVerifier, nor one "
                          "this node's deployment map records: no proof of it could be paid") from None
        n = job.samples // max(1, len(shards))
    if job.samples != len(shards) * n:
        raise Skipped(f"the job proves {job.samples} test samples over {len(shards)} shard(s), but its "
                      f"verifier proves shards of {n}")


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
