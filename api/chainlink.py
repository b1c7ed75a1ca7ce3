"""The chain as the doors see it: chain id, read-only views and unsigned transactions.

Nothing here sends a transaction except the dev-mode employer path, which goes through the
chain client (the one transaction path). Wallet transactions are built here as (to, data,
value) from the compiled ABIs and the deployment map, and signed by the user's wallet.
"""

from __future__ import annotations

import json
from functools import lru_cache

from api.problems import ProblemError
from api.schemas import UnsignedTx
from zkpot.config import Settings


@lru_cache(maxsize=8)
def _web3(rpc_url: str):
    from web3 import HTTPProvider, Web3

    return Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": 10}))


@lru_cache(maxsize=8)
def _rpc_chain_id(rpc_url: str) -> int:
    return _web3(rpc_url).eth.chain_id


def chain_id_of(settings: Settings) -> int:
    """The configured chain id, else the RPC's; 503 when the chain cannot be reached."""
    if settings.chain_id is not None:
        return settings.chain_id
    try:
        return _rpc_chain_id(settings.rpc_url)
    except Exception as e:  # connection refused, timeout, bad answer
        raise ProblemError(503, f"the chain at {settings.rpc_url} does not answer") from e


def deployment(settings: Settings) -> dict[str, str]:
    """Contract name → address, from the map the deploy script writes; 503 if absent."""
    path = settings.deployment_path
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ProblemError(503, f"zkpot contracts are not deployed (no map at {path})") from e
    contracts = data.get("contracts", data)
    return {k: v for k, v in contracts.items() if isinstance(v, str) and v.startswith("0x")}


def contract(settings: Settings, name: str):
    from zkpot.chain.artifacts import load_artifact

    address = deployment(settings).get(name)
    if address is None:
        raise ProblemError(503, f"{name} is not in the deployment map")
    return _web3(settings.rpc_url).eth.contract(address=address, abi=load_artifact(name).abi)


def _call(fn):
    try:
        return fn.call()
    except ProblemError:
        raise
    except Exception as e:
        raise ProblemError(503, f"the chain did not answer a view call: {type(e).__name__}") from e


PAYERS = ("JobEscrow", "NodeRegistry")  # pull-payment contracts an account may hold credit in


def pending_credit(settings: Settings, addresses: list[str]) -> dict[str, int]:
    """Withdrawable wei per address, summed over the pull-payment contracts."""
    out = {a: 0 for a in addresses}
    for name in PAYERS:
        c = contract(settings, name)
        for a in addresses:
            out[a] += int(_call(c.functions.creditOf(a)))
    return out


def _tx(settings: Settings, c, fn_name: str, *args, value: int = 0) -> UnsignedTx:
    data = c.encode_abi(fn_name, args=list(args))
    return UnsignedTx(to=c.address, data=data, value=str(value), chain_id=chain_id_of(settings))


def withdraw_transactions(settings: Settings, address: str) -> list[UnsignedTx]:
    txs = []
    for name in PAYERS:
        c = contract(settings, name)
        if int(_call(c.functions.creditOf(address))) > 0:
            txs.append(_tx(settings, c, "withdraw"))
    if not txs:
        raise ProblemError(409, f"{address} has nothing to withdraw")
    return txs


def reclaim_transaction(settings: Settings, job_id: int) -> UnsignedTx:
    return _tx(settings, contract(settings, "JobEscrow"), "reclaim", job_id)


def job_extras(settings: Settings, job) -> tuple[float | None, dict]:
    """θ from the job's manifest (when the store has it) and per-stage metrics."""
    return None, {}


def prepare_job(settings: Settings, *, employer: str, spec, dataset, reward_per_stage: int,
                quorum: int, theta: float, deadline: int, bounty: int):
    raise ProblemError(503, "job preparation is not available on this server")
