"""The chain as the doors see it: chain id, read-only views and unsigned transactions.

Nothing here sends a transaction except the dev-mode employer path, which goes through the
chain client (the one transaction path). Wallet transactions are built here as (to, data,
value) from the compiled ABIs and the deployment map, and signed by the user's wallet.
"""

from __future__ import annotations

import numpy as np

import threading
import time
from collections import OrderedDict
from functools import lru_cache
from typing import Callable

from api.problems import ProblemError
from api.schemas import JobPrepared, StageMetrics, TestSetRelease, UnsignedTx
from zkpot.config import Settings


@lru_cache(maxsize=8)
def _rpc_chain_id(rpc_url: str) -> int:
    from web3 import HTTPProvider, Web3

    return Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": 10})).eth.chain_id


def chain_id_of(settings: Settings) -> int:
    """The configured chain id, else the RPC's; 503 when the chain cannot be reached."""
    if settings.chain_id is not None:
        return settings.chain_id
    try:
        return _rpc_chain_id(settings.rpc_url)
    except Exception as e:  # connection refused, timeout, bad answer
        raise ProblemError(503, f"the chain at {settings.rpc_url} does not answer") from e


def _deployment(settings: Settings):
    from zkpot.chain import load_deployment

    try:
        return load_deployment(settings)
    except (OSError, ValueError) as e:
        raise ProblemError(503, f"zkpot contracts are not deployed here: {e}") from e


def _client(settings: Settings, key: str | None = None):
    from zkpot.chain import ChainClient

    return ChainClient.from_settings(settings, key, read_only=key is None)


def escrow(settings: Settings, key: str | None = None):
    from zkpot.chain import JobEscrowClient

    return JobEscrowClient(_client(settings, key), _deployment(settings).escrow)


def registry(settings: Settings):
    from zkpot.chain import NodeRegistryClient

    return NodeRegistryClient(_client(settings), _deployment(settings).registry)


def _read(op):
    from zkpot.chain import ChainError

    try:
        return op()
    except ChainError as e:
        raise ProblemError(503, f"the chain did not answer: {e}") from e


def pending_credit(settings: Settings, addresses: list[str]) -> dict[str, int]:
    """Withdrawable wei per address, summed over the escrow and the node registry."""
    if not addresses:
        return {}
    payers = (escrow(settings), registry(settings))
    return {a: _read(lambda: sum(p.credit_of(a) for p in payers)) for a in addresses}


def _tx(settings: Settings, contract, fn_name: str, *args, value: int = 0) -> UnsignedTx:
    data = contract.encode_abi(fn_name, args=list(args))
    return UnsignedTx(to=contract.address, data=data, value=str(value), chain_id=chain_id_of(settings))


def withdraw_transactions(settings: Settings, address: str) -> list[UnsignedTx]:
    txs = [_tx(settings, p.contract, "withdraw")
           for p in (escrow(settings), registry(settings)) if _read(lambda: p.credit_of(address)) > 0]
    if not txs:
        raise ProblemError(409, f"{address} has nothing to withdraw")
    return txs


def reclaim_transaction(settings: Settings, job_id: int) -> UnsignedTx:
    return _tx(settings, escrow(settings).contract, "reclaim", job_id)


def create_job_transaction(settings: Settings, params) -> UnsignedTx:
    """The exact createJob call (and escrow value) for ``params`` (a ``JobParams``)."""
    return _tx(settings, escrow(settings).contract, "createJob", params.as_tuple(), value=params.escrow)


def dev_employer(settings: Settings) -> str | None:
    """Dev mode's employer address (``ZKPOT_EMPLOYER_KEY``), or None."""
    if settings.employer_key is None:
        return None
    from eth_account import Account

    return Account.from_key(settings.employer_key.get_secret_value()).address


def signs_for(settings: Settings, address: str) -> bool:
    """Dev mode signs only for the dev employer's own wallet; anyone else gets the transaction."""
    dev = dev_employer(settings)
    return dev is not None and dev.lower() == address.lower()


def _chain_failure(what: str, e: Exception) -> ProblemError:
    """A failed transaction as a problem: a decoded contract error with its reason, or 503."""
    from zkpot.chain import ContractError
    from zkpot.revert_reasons import explain

    if isinstance(e, ContractError):
        return ProblemError(409, f"{what} was refused by the contract: {explain(e)}")
    message = str(getattr(e, "message", "") or e)
    if "insufficient funds" in message.lower():
        return ProblemError(409, f"{what} failed: the sender cannot pay for it ({message})")
    return ProblemError(503, f"{what} failed: {message}")


def send_as_dev_employer(settings: Settings, params) -> str:
    """Dev mode: sign createJob with the configured employer key; returns the tx hash."""
    from web3.exceptions import Web3Exception

    from zkpot.chain import ChainError

    client = escrow(settings, settings.employer_key.get_secret_value())
    try:
        receipt = client.create_job_receipt(params)
    except (ChainError, Web3Exception) as e:
        raise _chain_failure("createJob", e) from e
    return receipt.tx_hash


# manifests are content-addressed (immutable): parsed ones are kept; a miss is kept briefly
_MANIFESTS: OrderedDict[str, tuple[float, object]] = OrderedDict()
_MANIFEST_CACHE = 256
_MISS_TTL_S = 30.0
_manifests_lock = threading.Lock()


def _manifest(settings: Settings, job):
    """The job's manifest when this server's store holds it (else None)."""
    from zkpot.manifest import Manifest, ManifestError
    from zkpot.storage import StorageError, open_store

    cid = job.created.get("manifestCid")
    key = _manifest_key(settings, cid)
    known = cached_manifest(key)
    if known is not _UNKNOWN:
        return known
    try:
        manifest = Manifest.from_bytes(open_store(settings).get(cid))
    except (KeyError, StorageError, ManifestError, OSError, ValueError, TypeError):
        manifest = None
    with _manifests_lock:
        _MANIFESTS[key] = (time.monotonic(), manifest)
        _MANIFESTS.move_to_end(key)
        while len(_MANIFESTS) > _MANIFEST_CACHE:
            _MANIFESTS.popitem(last=False)
    return manifest


_UNKNOWN = object()


def _manifest_key(settings: Settings, cid) -> tuple:
    where = settings.kubo_rpc_url if settings.storage_backend == "kubo" else str(settings.store_dir)
    return (settings.storage_backend, where, cid)


def cached_manifest(key: tuple):
    """The parsed manifest under ``key`` or None (not held) if known, else ``_UNKNOWN``: a
    caller on the event loop reads the store (maybe a Kubo node) only in a thread."""
    with _manifests_lock:
        entry = _MANIFESTS.get(key)
    if entry is None:
        return _UNKNOWN
    at, manifest = entry
    if manifest is None and time.monotonic() - at > _MISS_TTL_S:
        return _UNKNOWN
    return manifest


def extras_cached(settings: Settings, job) -> bool:
    """Whether ``job_extras`` needs no store read for this job (its manifest lookup is cached)."""
    return cached_manifest(_manifest_key(settings, job.created.get("manifestCid"))) is not _UNKNOWN


def job_extras(settings: Settings, job) -> tuple[float | None, dict]:
    """θ from the job's manifest and the per-stage metrics already evaluated (cache only)."""
    manifest = _manifest(settings, job)
    if manifest is None:
        return None, {}
    curves = job_curves(settings, job, compute=False)
    metrics = {p.stage: StageMetrics(mean_loss=p.mean_loss, accuracy=p.accuracy) for p in curves.points}
    return manifest.theta_bps / 10_000, metrics


def _problem(e: Exception) -> ProblemError:
    """A core ``JobError`` as the HTTP problem a user can act on."""
    from zkpot import jobs

    status = {jobs.JobInputError: 422, jobs.JobStateError: 409, jobs.NotEmployerError: 403,
              jobs.TestSetNotHeld: 404, jobs.JobNotFound: 404, jobs.JobChainError: 503,
              jobs.JobRefused: 409, jobs.JobStorageError: 503, jobs.JobsPending: 429}.get(type(e), 422)
    field = getattr(e, "field", None)
    errors = [{"loc": ["body", field], "msg": str(e), "type": "value_error"}] if field else None
    return ProblemError(status, str(e), errors)


def prepare_job(settings: Settings, *, spec, dataset, terms, employer: str,
                created: Callable[[bytes, str], bool | None]) -> JobPrepared:
    """Prepare the job for ``employer`` (``zkpot.jobs.prepare_job``, createJob simulated for that
    wallet first) and answer with its createJob transaction; dev mode sends it when the
    employer is the dev key's own address, and removes what was stored if it then fails.
    Preparations waiting for their createJob are bounded and expire (``zkpot.prepared``;
    ``created`` says which of a wallet's jobs are on chain)."""
    from zkpot import jobs
    from zkpot.escrow_preflight import EscrowPreflight
    from zkpot.prepared import PreparedJobs

    try:
        prepared = jobs.prepare_job(settings, dataset, spec, terms, employer,
                                    EscrowPreflight(settings, employer), ledger=PreparedJobs(settings, created))
    except jobs.JobError as e:
        raise _problem(e) from e
    params = prepared.params
    tx = create_job_transaction(settings, params)
    tx_hash = None
    if signs_for(settings, employer):
        try:
            tx_hash = send_as_dev_employer(settings, params)
        except ProblemError:
            jobs.discard_job(settings, prepared)
            raise
    eth = f"{params.escrow / 10**18:.6f}".rstrip("0").rstrip(".")
    return JobPrepared(manifest_hash="0x" + params.manifest_hash.hex(), manifest_cid=params.manifest_cid,
                       stage_count=params.stages, chunk_cids=prepared.chunk_cids,
                       train_samples=prepared.train_samples, test_samples=params.samples,
                       threshold=params.threshold, deposit=str(params.escrow), deposit_eth=eth,
                       prepared_until=int(prepared.expires_at), transaction=tx, tx_hash=tx_hash)


def release_test_set(settings: Settings, job_id: int, employer: str) -> TestSetRelease:
    """The job's private test set as publishTestShard transactions (or send them).

    In dev mode (``ZKPOT_EMPLOYER_KEY``) the server sends them when the signed-in employer is
    that key's address; otherwise the employer's wallet signs the returned transactions.
    """
    from web3.exceptions import Web3Exception

    from zkpot import jobs
    from zkpot.chain import ChainError

    send = signs_for(settings, employer)
    client = escrow(settings, settings.employer_key.get_secret_value() if send else None)
    try:
        if send:
            out = jobs.publish_test_set(settings, client, job_id)
        else:
            out = jobs.release_test_set(settings, client, job_id, employer)
    except jobs.JobError as e:
        raise _problem(e) from e
    except (ChainError, Web3Exception) as e:
        raise _chain_failure("publishTestShard", e) from e
    posted = set() if send else set(_read(lambda: client.published_shards(job_id)))
    txs = [_tx(settings, client.contract, "publishTestShard", job_id, i, data)
           for i, data in enumerate(out.shards) if i not in posted]
    return TestSetRelease(job_id=job_id, samples=out.samples, shards=len(out.shards), transactions=txs,
                          tx_hashes=out.tx_hashes)


def job_curves(settings: Settings, job, compute: bool = True):
    """Loss/accuracy per finalised stage (``zkpot.jobs.job_curves``) for an indexed job."""
    from zkpot import curves

    manifest = _manifest(settings, job)
    if manifest is None:
        return None
    finalised = [(i, bytes.fromhex(s.finalised["weightsHash"][2:]), s.finalised["cid"])
                 for i, s in sorted(job.stages.items()) if s.finalised]
    test_set = None
    if job.test_set:
        # the cache key names the posted shards by their committed hashes
        key = "".join(t["dataHash"][2:10] for _, t in sorted(job.test_shards.items()))
        test_set = (key, lambda: _posted_test_set(settings, job))
    return curves.job_curves(settings, manifest, finalised, test_set, compute=compute)


def _posted_test_set(settings: Settings, job):
    """The test set posted on chain for ``job``, read from its shards' call data."""
    from zkpot import datasets
    from zkpot.testset import decode_shard

    client = escrow(settings)
    shards = [decode_shard(_read(lambda t=t: client.test_shard_data(t["tx"]))[2])
              for _, t in sorted(job.test_shards.items())]
    x = np.concatenate([s.x for s in shards])
    y = np.concatenate([s.labels for s in shards])
    return datasets.Dataset(x, y, shards[0].num_classes, tuple(x.shape[1:]))
