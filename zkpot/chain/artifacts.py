"""Contract ABIs and bytecode from brownie's build artifacts (never hand-written).

``brownie compile`` writes ``build/contracts/<Name>.json``; every ABI there also feeds the
revert and event decoders, so errors of any zkpot contract decode by name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import keccak, to_checksum_address

from zkpot.chain.errors import ContractError
from zkpot.config import PROJECT_ROOT

BUILD_DIR = PROJECT_ROOT / "build"
ERROR_STRING = bytes.fromhex("08c379a0")  # Error(string)
PANIC = bytes.fromhex("4e487b71")  # Panic(uint256)


@dataclass(frozen=True)
class Artifact:
    """One compiled contract: its name, ABI and creation bytecode (empty for interfaces)."""

    name: str
    abi: list[dict[str, Any]]
    bytecode: str


class ArtifactMissing(FileNotFoundError):
    """The build artifact is absent: run ``tools/with-env.sh brownie compile``."""


def _build_dirs(build_dir: Path | None) -> list[Path]:
    root = build_dir or BUILD_DIR
    return [root / "contracts", root / "interfaces"]


@lru_cache(maxsize=64)
def load_artifact(name: str, build_dir: Path | None = None) -> Artifact:
    """The artifact of contract ``name`` (e.g. ``"JobEscrow"``)."""
    for folder in _build_dirs(build_dir):
        path = folder / f"{name}.json"
        if path.exists():
            data = json.loads(path.read_text())
            return Artifact(name=name, abi=data["abi"], bytecode=data.get("bytecode") or "")
    raise ArtifactMissing(f"no build artifact for {name}; run `tools/with-env.sh brownie compile`")


def _signature(item: dict[str, Any]) -> str:
    return f"{item['name']}({','.join(_type_of(i) for i in item['inputs'])})"


def _type_of(param: dict[str, Any]) -> str:
    kind = param["type"]
    if kind.startswith("tuple"):
        return "(" + ",".join(_type_of(c) for c in param["components"]) + ")" + kind[len("tuple"):]
    return kind


@lru_cache(maxsize=4)
def _error_table(build_dir: Path | None = None) -> dict[bytes, tuple[str, list[str]]]:
    table: dict[bytes, tuple[str, list[str]]] = {}
    for folder in _build_dirs(build_dir):
        for path in sorted(folder.glob("*.json")) if folder.exists() else []:
            for item in json.loads(path.read_text()).get("abi", []):
                if item.get("type") == "error":
                    selector = keccak(text=_signature(item))[:4]
                    table[selector] = (item["name"], [_type_of(i) for i in item["inputs"]])
    return table


def _normalise(kind: str, value: Any) -> Any:
    if kind == "address":
        return to_checksum_address(value)
    if isinstance(value, (list, tuple)) and kind.endswith("]"):
        return tuple(_normalise(kind[: kind.rindex("[")], v) for v in value)
    return value


def decode_revert(data: bytes | str | None, tx_hash: str | None = None) -> ContractError:
    """Turn revert data into a ``ContractError`` named after the contract's custom error."""
    if isinstance(data, str):
        data = bytes.fromhex(data.removeprefix("0x"))
    data = data or b""
    selector, body = data[:4], data[4:]
    if selector == ERROR_STRING:
        return ContractError("Error", tuple(abi_decode(["string"], body)), data, tx_hash)
    if selector == PANIC:
        return ContractError("Panic", tuple(abi_decode(["uint256"], body)), data, tx_hash)
    known = _error_table().get(selector)
    if known is None:
        return ContractError("Unknown", (data,) if data else (), data, tx_hash)
    name, types = known
    values = abi_decode(types, body)
    return ContractError(name, tuple(_normalise(t, v) for t, v in zip(types, values)), data, tx_hash)


def reset_caches() -> None:
    """Forget loaded artifacts (after a recompile in the same process)."""
    load_artifact.cache_clear()
    _error_table.cache_clear()
