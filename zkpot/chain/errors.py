"""Errors of the chain client: contract reverts decoded by name, and transport failures."""

from __future__ import annotations

from typing import Any


class ChainError(Exception):
    """Something went wrong talking to the chain (not a contract revert)."""


class ContractError(ChainError):
    """A contract call or transaction reverted.

    ``name`` is the custom error's name (``"DeclarationDuplicated"``), ``"Error"`` for a
    revert string, ``"Panic"`` for a panic code, or ``"Unknown"`` when the data matches no ABI;
    ``args`` its decoded arguments (addresses checksummed, bytesN as ``bytes``).
    """

    def __init__(self, name: str, args: tuple[Any, ...] = (), data: bytes = b"", tx_hash: str | None = None):
        self.name = name
        self.args_ = tuple(args)
        self.data = data
        self.tx_hash = tx_hash
        shown = ", ".join(_show(a) for a in self.args_)
        super().__init__(f"{name}({shown})")

    @property
    def error_args(self) -> tuple[Any, ...]:
        return self.args_

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ContractError):
            return NotImplemented
        return (self.name, self.args_) == (other.name, other.args_)

    def __hash__(self) -> int:
        return hash((self.name, self.args_))


def _show(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return repr(value)
