"""Decoded events of every zkpot contract, so any index can be rebuilt from the chain."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Iterable

from eth_abi import decode as abi_decode
from eth_utils import keccak, to_checksum_address
from hexbytes import HexBytes

from zkpot.chain.artifacts import ArtifactMissing, _type_of, load_artifact

if TYPE_CHECKING:
    from zkpot.chain.client import ChainClient
    from zkpot.chain.deployment import Deployment

# contracts whose events the decoder knows (the ones without an artifact are skipped)
EVENT_SOURCES = ("JobEscrow", "NodeRegistry", "FederatedTask", "EzklAccuracyVerifier", "StageDispute")
MAX_RANGE = 5_000  # blocks per eth_getLogs request


@dataclass(frozen=True)
class ChainEvent:
    """One decoded log: event name and arguments, where it is, and which contract emitted it."""

    name: str
    args: dict[str, Any]
    block_number: int
    tx_hash: str
    log_index: int
    address: str

    def __getitem__(self, key: str) -> Any:
        return self.args[key]


@lru_cache(maxsize=1)
def _event_table() -> dict[bytes, dict[str, Any]]:
    table: dict[bytes, dict[str, Any]] = {}
    for name in EVENT_SOURCES:
        try:
            abi = load_artifact(name).abi
        except ArtifactMissing:
            continue
        for item in abi:
            if item.get("type") == "event" and not item.get("anonymous"):
                sig = f"{item['name']}({','.join(_type_of(i) for i in item['inputs'])})"
                table[keccak(text=sig)] = item
    return table


def _value(kind: str, value: Any) -> Any:
    if kind == "address":
        return to_checksum_address(value)
    return value


def decode_log(log: Any) -> ChainEvent | None:
    """A ``ChainEvent`` for a raw log of a zkpot contract, None for an unknown topic."""
    topics = [HexBytes(t) for t in log["topics"]]
    if not topics:
        return None
    item = _event_table().get(bytes(topics[0]))
    if item is None:
        return None
    indexed = [i for i in item["inputs"] if i["indexed"]]
    plain = [i for i in item["inputs"] if not i["indexed"]]
    args: dict[str, Any] = {}
    for param, topic in zip(indexed, topics[1:]):
        kind = _type_of(param)
        # indexed dynamic values are stored as their hash
        dynamic = kind in ("string", "bytes") or kind.endswith("]") or kind.startswith("(")
        args[param["name"]] = bytes(topic) if dynamic else _value(kind, abi_decode([kind], bytes(topic))[0])
    kinds = [_type_of(p) for p in plain]
    # strings are read as bytes and decoded here: the contracts take any bytes as a string, and
    # one event that is not UTF-8 must not stop every reader of the chain (found by an attack)
    values = abi_decode(["bytes" if k == "string" else k for k in kinds], bytes(HexBytes(log["data"])))
    for param, kind, value in zip(plain, kinds, values):
        args[param["name"]] = value.decode("utf-8", errors="replace") if kind == "string" else _value(kind, value)
    return ChainEvent(name=item["name"], args=args, block_number=int(log["blockNumber"]),
                      tx_hash=HexBytes(log["transactionHash"]).to_0x_hex(), log_index=int(log["logIndex"]),
                      address=to_checksum_address(log["address"]))


def decode_logs(client: "ChainClient", logs: Iterable[Any]) -> list[ChainEvent]:
    return [ev for ev in (decode_log(log) for log in logs) if ev is not None]


def fetch_events(client: "ChainClient", deployment: "Deployment", from_block: int = 0,
                 to_block: int | str = "latest", names: Iterable[str] | None = None) -> list[ChainEvent]:
    """Every event of the deployment's contracts in [from_block, to_block], in chain order.

    ``names`` keeps only those events. Large ranges are read in chunks of ``MAX_RANGE``.
    """
    last = client.block_number() if to_block == "latest" else int(to_block)
    addresses = [to_checksum_address(a) for a in deployment.contracts.values()]
    wanted = set(names) if names is not None else None
    events: list[ChainEvent] = []
    start = from_block
    while start <= last:
        end = min(start + MAX_RANGE - 1, last)
        logs = client.rpc(lambda: client.w3.eth.get_logs(
            {"fromBlock": start, "toBlock": end, "address": addresses}))
        for ev in decode_logs(client, logs):
            if wanted is None or ev.name in wanted:
                events.append(ev)
        start = end + 1
    events.sort(key=lambda e: (e.block_number, e.log_index))
    return events


def reset_event_cache() -> None:
    _event_table.cache_clear()
