"""The chain as the doors see it: chain id, read-only views and unsigned transactions.

Nothing here sends a transaction except the dev-mode employer path, which goes through the
chain client (the one transaction path). Wallet transactions are built here as (to, data,
value) from the compiled ABIs and the deployment map, and signed by the user's wallet.
"""

from __future__ import annotations

from functools import lru_cache

from api.problems import ProblemError
from api.schemas import UnsignedTx
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

    return ChainClient(settings.rpc_url, key, chain_id=settings.chain_id, lock_dir=settings.path("locks"))


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


def send_as_dev_employer(settings: Settings, params) -> str:
    """Dev mode: sign createJob with the configured employer key; returns the tx hash."""
    from zkpot.chain import ChainError

    client = escrow(settings, settings.employer_key.get_secret_value())
    try:
        receipt = client.create_job_receipt(params)
    except ChainError as e:
        raise ProblemError(409, f"createJob failed: {e}") from e
    return receipt.tx_hash


def job_extras(settings: Settings, job) -> tuple[float | None, dict]:
    """θ from the job's manifest when this server's store holds it; no per-stage metrics yet."""
    from zkpot.manifest import Manifest, ManifestError
    from zkpot.storage import StorageError, open_store

    try:
        manifest = Manifest.from_bytes(open_store(settings).get(job.created["manifestCid"]))
    except (StorageError, ManifestError, OSError, ValueError):
        return None, {}
    return manifest.theta_bps / 10_000, {}


def prepare_job(settings: Settings, *, employer: str, spec, dataset, reward_per_stage: int,
                quorum: int, theta: float, deadline: int, bounty: int, stage_flops: int,
                shard_size: int):
    """Prepare the job (``api.jobprep``) and answer with its createJob transaction."""
    from api import jobprep
    from api.routers.jobs import JobPrepared

    verifier = _deployment(settings).verifier
    if verifier is None:
        raise ProblemError(503, "no accuracy verifier is deployed on this chain")
    manifest, params, chunk_cids, n_train = jobprep.prepare(
        settings, spec=spec, dataset=dataset, reward_per_stage=reward_per_stage, quorum=quorum,
        theta=theta, deadline=deadline, bounty=bounty, stage_flops=stage_flops,
        shard_size=shard_size, verifier=verifier)
    tx = create_job_transaction(settings, params)
    tx_hash = None
    if settings.employer_key is not None:
        tx_hash = send_as_dev_employer(settings, params)
    eth = f"{params.escrow / 10**18:.6f}".rstrip("0").rstrip(".")
    return JobPrepared(manifest_hash="0x" + params.manifest_hash.hex(), manifest_cid=params.manifest_cid,
                       stage_count=params.stages, chunk_cids=chunk_cids, train_samples=n_train,
                       test_samples=params.samples, threshold=params.threshold,
                       deposit=str(params.escrow), deposit_eth=eth, transaction=tx, tx_hash=tx_hash)
