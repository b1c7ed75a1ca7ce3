"""Typed wrapper of the NodeRegistry contract."""

from __future__ import annotations

from dataclasses import dataclass

from web3 import Web3

from zkpot.chain.client import ChainClient, Receipt


@dataclass(frozen=True)
class NodeView:
    stake: int
    locked: int   # collateral of the node's open declarations
    exit_at: int  # 0: active


class NodeRegistryClient:
    """Calls into the NodeRegistry through a ``ChainClient`` (signing as that client's key)."""

    def __init__(self, client: ChainClient, address: str):
        self.client = client
        self.address = Web3.to_checksum_address(address)
        self.contract = client.contract("NodeRegistry", self.address)
        self._fn = self.contract.functions

    def register(self, stake: int) -> Receipt:
        return self.client.transact(self._fn.register(), value=stake)

    def top_up(self, amount: int) -> Receipt:
        return self.client.transact(self._fn.topUp(), value=amount)

    def request_exit(self) -> Receipt:
        return self.client.transact(self._fn.requestExit())

    def exit(self) -> Receipt:
        return self.client.transact(self._fn.exit())

    def withdraw(self) -> Receipt:
        return self.client.transact(self._fn.withdraw())

    def stake_of(self, node: str) -> int:
        return self.client.call(self._fn.stakeOf(Web3.to_checksum_address(node)))

    def node_of(self, node: str) -> NodeView:
        return NodeView(*self.client.call(self._fn.nodeOf(Web3.to_checksum_address(node))))

    def is_active(self, node: str) -> bool:
        return self.client.call(self._fn.isActive(Web3.to_checksum_address(node)))

    def free_declarations(self, node: str) -> int:
        """How many more declarations the node's free stake can back."""
        return self.client.call(self._fn.freeDeclarations(Web3.to_checksum_address(node)))

    def credit_of(self, account: str) -> int:
        return self.client.call(self._fn.creditOf(Web3.to_checksum_address(account)))

    def min_stake(self) -> int:
        return self.client.call(self._fn.minStake())

    def slash_amount(self) -> int:
        return self.client.call(self._fn.slashAmount())

    def exit_cooldown(self) -> int:
        return self.client.call(self._fn.exitCooldown())
