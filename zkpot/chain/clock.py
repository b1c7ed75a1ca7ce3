"""Chain time: what ``block.timestamp`` the next transaction will see, and waiting for it.

Contracts decide phases by ``block.timestamp``, so every wait for a phase is a wait on chain
time, never on this machine's clock. "Now" is the pending block's timestamp where the RPC
serves one (Anvil does: its latest block keeps its timestamp while no transaction is mined,
so the latest block alone would never reach a later time), else the latest block's.

Two clocks share one protocol: ``LiveChainClock`` polls the chain until its time comes (any
chain; the default everywhere), ``DevChainClock`` moves a development chain's clock forward
instead (``evm_increaseTime`` + ``evm_mine``: Anvil and Hardhat only; tests and local demos).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from zkpot.chain.client import ChainClient
from zkpot.chain.errors import ChainError

POLL_S = 2.0    # longest pause between two readings of chain time
GRACE_S = 120.0  # how long past the expected time a wait goes on before it gives up


class ChainTimeout(ChainError):
    """Chain time did not reach the awaited timestamp in time (a stalled or idle chain)."""


class ChainClock(Protocol):
    """Reads chain time and waits until it reaches a timestamp (what phased rounds need)."""

    def now(self) -> int:
        """Chain time now: the timestamp the next mined transaction will carry at least."""
        ...

    def wait_until(self, when: int) -> int:
        """Return once chain time is ``when`` or later; the chain time reached."""
        ...


def read_chain_time(client: ChainClient) -> tuple[int, str]:
    """Chain time and where it was read (``ChainClient.read_chain_time``)."""
    return client.read_chain_time()


def chain_time(client: ChainClient) -> int:
    """Chain time now (see ``read_chain_time``)."""
    return client.chain_time()


def wait_until_chain_time(client: ChainClient, when: int, *, timeout_s: float | None = None,
                          poll_s: float = POLL_S, sleep: Callable[[float], None] = time.sleep,
                          monotonic: Callable[[], float] = time.monotonic) -> int:
    """Poll chain time until it is ``when`` or later and return it.

    Polls at most every ``poll_s`` seconds (sooner when less time is left). Gives up with
    ``ChainTimeout`` after ``timeout_s`` seconds, by default the time left at the start plus
    ``GRACE_S``: chain time follows wall time within a block interval on a live chain, so a
    wait much longer than that means the chain stalled (or mines no block while idle and
    serves no pending block).
    """
    now, source = read_chain_time(client)
    if now >= when:
        return now
    started = now
    give_up = monotonic() + (timeout_s if timeout_s is not None else (when - now) + GRACE_S)
    while now < when:
        if monotonic() >= give_up:
            raise ChainTimeout(
                f"chain time ({source} block's timestamp) is {now}, {when - now} s short of {when}; "
                f"it moved {now - started} s while this machine waited "
                f"{timeout_s if timeout_s is not None else (when - started) + GRACE_S:.0f} s")
        sleep(max(0.05, min(poll_s, when - now)))
        now, source = read_chain_time(client)
    return now


@dataclass
class LiveChainClock:
    """Waits on the chain's own time: any chain, the default of every phased flow."""

    client: ChainClient
    poll_s: float = POLL_S
    timeout_s: float | None = None  # None: the time left plus GRACE_S

    def now(self) -> int:
        return chain_time(self.client)

    def wait_until(self, when: int) -> int:
        return wait_until_chain_time(self.client, when, timeout_s=self.timeout_s, poll_s=self.poll_s)


@dataclass
class DevChainClock:
    """Moves a development chain's clock forward instead of waiting (Anvil, Hardhat).

    ``wait_until`` raises the chain's time offset by what is missing and mines a block at the
    new time, so whatever is sent next runs at ``when`` or later. Every other user of the chain
    sees the jump: for dev chains that one process owns (tests, a local demo) only.
    """

    client: ChainClient

    def now(self) -> int:
        return chain_time(self.client)

    def wait_until(self, when: int) -> int:
        now = self.now()
        if now < when:
            self._request("evm_increaseTime", [when - now])
            self._request("evm_mine", [])
            now = self.now()
            if now < when:
                raise ChainError(f"the dev chain's clock stands at {now} after moving it to {when}")
        return now

    def _request(self, method: str, params: list[Any]) -> Any:
        answer = self.client.rpc(lambda: self.client.w3.provider.make_request(method, params))
        if "error" in answer:
            raise ChainError(f"{method} refused by {self.client.rpc_url} (not a dev chain?): {answer['error']}")
        return answer.get("result")
