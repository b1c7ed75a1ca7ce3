"""The one transaction path: signing, nonces, gas, receipts and revert decoding.

Every zkpot transaction goes through ``ChainClient.transact``. Sends from one key are
serialised by a per-identity lock (a thread lock plus a file lock under the state dir, so
threads and worker processes sharing a key never reuse a nonce); the receipt is awaited
outside the lock so concurrent senders still pipeline.
"""

from __future__ import annotations

import fcntl
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

import requests
from eth_account import Account
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractLogicError, TimeExhausted, Web3RPCError

from zkpot.chain.artifacts import decode_revert, load_artifact
from zkpot.chain.errors import ChainError, ContractError
from zkpot.config import Settings

T = TypeVar("T")

GAS_MARGIN = 1.25  # estimates can be short when state moves between estimate and inclusion
TRANSIENT = (requests.ConnectionError, requests.Timeout, ConnectionError, TimeoutError)

_locks_guard = threading.Lock()
_identity_locks: dict[tuple[str, str], threading.Lock] = {}
_next_nonce: dict[tuple[str, str], int] = {}


@dataclass(frozen=True)
class Receipt:
    """A mined transaction: hash, block, gas used, and the zkpot events it emitted."""

    tx_hash: str
    block_number: int
    gas_used: int
    events: list[Any] = field(default_factory=list)  # list[ChainEvent]
    contract_address: str | None = None

    def event(self, name: str) -> Any:
        """The first event called ``name`` (KeyError when absent)."""
        for ev in self.events:
            if ev.name == name:
                return ev
        raise KeyError(f"no {name} event in {self.tx_hash}")

    def events_named(self, name: str) -> list[Any]:
        return [ev for ev in self.events if ev.name == name]


class ChainClient:
    """A web3 connection and (optionally) one signing identity."""

    def __init__(self, rpc_url: str, private_key: str | None = None, *, chain_id: int | None = None,
                 lock_dir: Path | None = None, retries: int = 4, receipt_timeout: float = 120.0):
        self.rpc_url = rpc_url
        self.w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 30}))
        self.account: LocalAccount | None = Account.from_key(private_key) if private_key else None
        self.retries = retries
        self.receipt_timeout = receipt_timeout
        self.lock_dir = lock_dir
        self._chain_id = chain_id
        if chain_id is not None:
            actual = self.chain_id
            if actual != chain_id:
                raise ChainError(f"RPC {rpc_url} serves chain {actual}, expected {chain_id}")

    @classmethod
    def from_settings(cls, settings: Settings, private_key: str | None = None, *,
                      read_only: bool = False, **options: Any) -> "ChainClient":
        """The one way to connect from settings: ``settings.rpc_url`` with its expected chain id
        and the sends' lock folder, signing with ``private_key`` (else the node key, unless
        ``read_only``). ``options``: ``retries``, ``receipt_timeout``."""
        key = private_key
        if key is None and not read_only and settings.node_key is not None:
            key = settings.node_key.get_secret_value()
        return cls(settings.rpc_url, key, chain_id=settings.chain_id, lock_dir=settings.path("locks"),
                   **options)

    # -- reading ---------------------------------------------------------------------------
    @property
    def address(self) -> str:
        if self.account is None:
            raise ChainError("this client has no signing key")
        return self.account.address

    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = self.rpc(lambda: self.w3.eth.chain_id)
        return self._chain_id

    def block_number(self) -> int:
        return self.rpc(lambda: self.w3.eth.block_number)

    def block_time(self, block: int | str = "latest") -> int:
        """A block's timestamp."""
        return int(self.rpc(lambda: self.w3.eth.get_block(block))["timestamp"])

    def read_chain_time(self) -> tuple[int, str]:
        """Chain time and where it was read: the pending block's timestamp (``"pending"``), or
        the latest block's (``"latest"``) where the RPC serves no pending block. An idle dev
        chain's latest block keeps its old time until something is mined; its pending block does
        not. Transport failures raise ``ChainError``; nothing else is swallowed."""
        from web3.exceptions import BlockNotFound, Web3RPCError

        latest = self._timestamp("latest")
        try:
            pending = self._timestamp("pending")
        except (Web3RPCError, BlockNotFound):  # no pending block here: the latest is all there is
            return latest, "latest"
        return max(pending, latest), "pending"

    def chain_time(self) -> int:
        """Now, in chain time: what ``block.timestamp`` the next transaction sees at least."""
        return self.read_chain_time()[0]

    def _timestamp(self, block: str) -> int:
        from web3.exceptions import BlockNotFound

        raw = self.rpc(lambda: self.w3.eth.get_block(block))
        if raw is None or raw.get("timestamp") is None:
            raise BlockNotFound(f"the RPC returned no {block} block")
        return int(raw["timestamp"])

    def balance(self, address: str) -> int:
        return self.rpc(lambda: self.w3.eth.get_balance(Web3.to_checksum_address(address)))

    def contract(self, name: str, address: str) -> Contract:
        """A web3 contract object for a deployed ``name`` (ABI from the build artifacts)."""
        return self.w3.eth.contract(address=Web3.to_checksum_address(address), abi=load_artifact(name).abi)

    def call(self, fn: ContractFunction, block: int | str = "latest") -> Any:
        """A read-only call; reverts raise ``ContractError``."""
        return self.rpc(lambda: self._with_revert_decoding(lambda: fn.call(block_identifier=block)))

    def simulate(self, fn: ContractFunction, value: int = 0) -> Any:
        """Run ``fn`` as this client's transaction would run now, sending nothing; its return
        value. A refusal raises ``ContractError`` with the contract's reason."""
        tx = {"from": self.address, "value": value}
        return self.rpc(lambda: self._with_revert_decoding(lambda: fn.call(tx, block_identifier="latest")))

    def rpc(self, op: Callable[[], T]) -> T:
        """Run ``op``, retrying transient connection errors with a short backoff."""
        delay = 0.2
        for attempt in range(self.retries + 1):
            try:
                return op()
            except TRANSIENT as exc:
                if attempt == self.retries:
                    raise ChainError(f"RPC {self.rpc_url} unreachable: {exc}") from exc
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
        raise AssertionError("unreachable")

    # -- writing ---------------------------------------------------------------------------
    def transact(self, fn: ContractFunction, value: int = 0, gas: int | None = None,
                 estimate_block: str | None = None) -> Receipt:
        """Sign and send a contract call, wait for it, and return its receipt.

        Gas is estimated against ``estimate_block`` (the node's default when None; "pending"
        for a call that must see the transactions just mined, as the next block will).
        A revert (at estimation or when mined) raises ``ContractError`` with the custom error.
        """
        tx: dict[str, Any] = {"from": self.address, "value": value}
        if gas is None:
            gas = self._estimate(fn, tx, estimate_block)
        return self._send(lambda nonce: fn.build_transaction({**tx, "gas": gas, "nonce": nonce}))

    def deploy(self, name: str, *args: Any, value: int = 0) -> Contract:
        """Deploy contract ``name`` from its build artifact; returns the deployed contract."""
        artifact = load_artifact(name)
        if not artifact.bytecode:
            raise ChainError(f"{name} has no bytecode (an interface or abstract contract)")
        address = self.deploy_compiled(artifact.abi, artifact.bytecode, *args, value=value).address
        return self.contract(name, address)

    def deploy_compiled(self, abi: list[dict[str, Any]], bytecode: str, *args: Any,
                        value: int = 0) -> Contract:
        """Deploy code compiled outside the build artifacts (a generated per-circuit verifier)."""
        factory = self.w3.eth.contract(abi=abi, bytecode=bytecode)
        tx: dict[str, Any] = {"from": self.address, "value": value}
        gas = self._estimate(factory.constructor(*args), tx)
        receipt = self._send(lambda nonce: factory.constructor(*args).build_transaction(
            {**tx, "gas": gas, "nonce": nonce}))
        return self.w3.eth.contract(address=receipt.contract_address, abi=abi)

    def send_value(self, to: str, value: int) -> Receipt:
        """A plain value transfer (funding a dev account)."""
        to = Web3.to_checksum_address(to)
        return self._send(lambda nonce: {"from": self.address, "to": to, "value": value, "gas": 21000,
                                         "nonce": nonce, "chainId": self.chain_id,
                                         **self._fees()})

    def _fees(self) -> dict[str, int]:
        base = self.rpc(lambda: self.w3.eth.get_block("latest")).get("baseFeePerGas", 0)
        tip = self.rpc(lambda: self.w3.eth.max_priority_fee)
        return {"maxFeePerGas": 2 * base + tip, "maxPriorityFeePerGas": tip}

    def _estimate(self, fn: Any, tx: dict[str, Any], block: str | None = None) -> int:
        estimate = self.rpc(lambda: self._with_revert_decoding(
            lambda: fn.estimate_gas(tx, block_identifier=block)))
        return int(estimate * GAS_MARGIN) + 10_000

    def _send(self, build: Callable[[int], dict[str, Any]]) -> Receipt:
        with self._identity() as key:
            nonce = max(_next_nonce.get(key, 0),
                        self.rpc(lambda: self.w3.eth.get_transaction_count(self.address, "pending")))
            signed = self.account.sign_transaction(build(nonce))
            tx_hash = self._broadcast(signed.raw_transaction, signed.hash)
            _next_nonce[key] = nonce + 1
        return self._wait(tx_hash)

    def _broadcast(self, raw: bytes, tx_hash: HexBytes) -> HexBytes:
        """Send a signed transaction; a resend after a dropped connection is harmless."""
        try:
            return self.rpc(lambda: self.w3.eth.send_raw_transaction(raw))
        except Web3RPCError as exc:
            if "already known" in str(exc).lower():
                return tx_hash
            raise

    def _wait(self, tx_hash: HexBytes) -> Receipt:
        try:
            raw = self.rpc(lambda: self.w3.eth.wait_for_transaction_receipt(
                tx_hash, timeout=self.receipt_timeout, poll_latency=0.05))
        except TimeExhausted as exc:
            raise ChainError(f"no receipt for {tx_hash.to_0x_hex()} within {self.receipt_timeout}s") from exc
        if raw["status"] != 1:
            raise self._replay_revert(raw)
        from zkpot.chain.events import decode_logs  # events imports this module

        return Receipt(tx_hash=raw["transactionHash"].to_0x_hex(), block_number=raw["blockNumber"],
                       gas_used=raw["gasUsed"], events=decode_logs(self, raw["logs"]),
                       contract_address=raw.get("contractAddress"))

    def _replay_revert(self, raw: Any) -> ContractError:
        """Re-run a mined, reverted transaction as a call to read its revert data."""
        tx = self.rpc(lambda: self.w3.eth.get_transaction(raw["transactionHash"]))
        call = {"from": tx["from"], "to": tx["to"], "data": tx["input"], "value": tx["value"], "gas": tx["gas"]}
        tx_hash = raw["transactionHash"].to_0x_hex()
        try:
            self.w3.eth.call(call, block_identifier=raw["blockNumber"] - 1)
        except (ContractLogicError, Web3RPCError) as exc:
            error = _revert_from(exc)
            error.tx_hash = tx_hash
            return error
        return ContractError("Unknown", (), b"", tx_hash)

    @staticmethod
    def _with_revert_decoding(op: Callable[[], T]) -> T:
        try:
            return op()
        except (ContractLogicError, Web3RPCError) as exc:
            error = _revert_from(exc)
            if error is None:
                raise
            raise error from exc

    @contextmanager
    def _identity(self) -> Iterator[tuple[str, str]]:
        """Serialise sends of this key: across threads, and across processes via a file lock."""
        key = (self.rpc_url, self.address)
        with _locks_guard:
            lock = _identity_locks.setdefault(key, threading.Lock())
        with lock:
            if self.lock_dir is None:
                yield key
                return
            self.lock_dir.mkdir(parents=True, exist_ok=True)
            with open(self.lock_dir / f"{self.address.lower()}.lock", "a+") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    # another process may have sent since: trust the chain's pending count
                    _next_nonce.pop(key, None)
                    yield key
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)


def _revert_from(exc: Exception) -> ContractError | None:
    """The decoded revert in a web3 exception, or None when it carries no revert data."""
    data = getattr(exc, "data", None)
    if isinstance(data, dict):
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x"):
        return decode_revert(data)
    if isinstance(exc, ContractLogicError):
        return ContractError("Unknown", (str(exc),))
    message = str(exc).lower()
    if "revert" in message:
        return ContractError("Unknown", (str(exc),))
    return None
