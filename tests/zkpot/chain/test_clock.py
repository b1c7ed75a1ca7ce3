"""Chain time and waiting for it: a real Anvil of this module's own (its clock is moved), and
scripted RPCs for what Anvil does not do (no pending block, a chain that stands still)."""

from __future__ import annotations

import time

import pytest
from web3.exceptions import Web3RPCError

from zkpot.chain import ChainClient, ChainError
from zkpot.chain.clock import (GRACE_S, ChainTimeout, DevChainClock, LiveChainClock, chain_time,
                               read_chain_time, wait_until_chain_time)
from zkpot.devnet import Anvil, free_port


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """An Anvil only this module uses: moving its clock disturbs no other test."""
    with Anvil(log_dir=tmp_path_factory.mktemp("clock-anvil")) as anvil:
        yield ChainClient(anvil.rpc_url)


def latest_time(client: ChainClient) -> int:
    return client.w3.eth.get_block("latest")["timestamp"]


def test_chain_time_follows_the_pending_block_while_no_block_is_mined(chain):
    before = latest_time(chain)
    time.sleep(1.2)
    now, source = read_chain_time(chain)
    assert source == "pending"
    assert latest_time(chain) == before  # Anvil mines nothing while idle
    assert now > before


def test_live_clock_waits_until_chain_time_is_reached(chain):
    target = chain_time(chain) + 2
    reached = LiveChainClock(chain, poll_s=0.2).wait_until(target)
    assert reached >= target
    assert chain_time(chain) >= target


def test_dev_clock_moves_the_chain_forward_without_waiting(chain):
    target = chain_time(chain) + 3 * 24 * 3600
    assert DevChainClock(chain).wait_until(target) >= target
    assert latest_time(chain) >= target  # a block was mined at the new time: the next runs later still


def test_waiting_for_a_past_time_returns_at_once(chain):
    now = chain_time(chain)
    assert DevChainClock(chain).wait_until(now - 100) >= now
    assert wait_until_chain_time(chain, now - 100, timeout_s=0) >= now


def test_an_unreachable_rpc_is_an_error_not_a_time():
    client = ChainClient(f"http://127.0.0.1:{free_port()}", retries=0)
    with pytest.raises(ChainError, match="unreachable"):
        chain_time(client)


# -- scripted RPCs --------------------------------------------------------------------------

class ScriptedChain:
    """A ChainClient stand-in whose blocks carry scripted timestamps."""

    rpc_url = "http://scripted"

    def __init__(self, latest: list[int], pending: list[int] | None = None, answers: dict | None = None):
        self.latest, self.pending = list(latest), (list(pending) if pending is not None else None)
        self.answers = answers or {}
        self.w3 = self
        self.eth = self
        self.provider = self

    def rpc(self, op):
        return op()

    # the chain client's own reading of chain time, over the scripted blocks
    read_chain_time = ChainClient.read_chain_time
    chain_time = ChainClient.chain_time
    _timestamp = ChainClient._timestamp

    def get_block(self, which):
        if which == "pending":
            if self.pending is None:
                raise Web3RPCError("pending block not supported")
            return {"timestamp": self.pending.pop(0) if len(self.pending) > 1 else self.pending[0]}
        return {"timestamp": self.latest.pop(0) if len(self.latest) > 1 else self.latest[0]}

    def make_request(self, method, params):
        return self.answers.get(method, {"error": {"code": -32601, "message": f"{method} not found"}})


class FakeTime:
    def __init__(self):
        self.t = 0.0
        self.sleeps: list[float] = []

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.t += s

    def monotonic(self) -> float:
        return self.t


def test_without_a_pending_block_the_latest_block_is_chain_time():
    chain = ScriptedChain(latest=[100, 103, 106, 109])
    fake = FakeTime()
    assert read_chain_time(chain) == (100, "latest")
    assert wait_until_chain_time(chain, 108, poll_s=3, sleep=fake.sleep, monotonic=fake.monotonic) == 109
    assert all(0 < s <= 3 for s in fake.sleeps)  # polled at the bounded interval


def test_a_chain_that_stands_still_times_out_with_a_clear_error():
    chain = ScriptedChain(latest=[100])  # no pending block, and no block while idle
    fake = FakeTime()
    with pytest.raises(ChainTimeout, match=r"latest block's timestamp\) is 100, 50 s short of 150"):
        wait_until_chain_time(chain, 150, timeout_s=30, poll_s=2, sleep=fake.sleep, monotonic=fake.monotonic)
    assert max(fake.sleeps) <= 2 and 30 <= fake.t < 33


def test_the_default_timeout_is_the_time_left_plus_a_grace():
    chain = ScriptedChain(latest=[100], pending=[100])
    fake = FakeTime()
    with pytest.raises(ChainTimeout):
        wait_until_chain_time(chain, 160, poll_s=5, sleep=fake.sleep, monotonic=fake.monotonic)
    assert 60 + GRACE_S <= fake.t < 60 + GRACE_S + 5


def test_dev_clock_on_a_chain_without_dev_methods_is_refused():
    chain = ScriptedChain(latest=[100], pending=[100])
    with pytest.raises(ChainError, match="evm_increaseTime refused .*not a dev chain"):
        DevChainClock(chain).wait_until(200)
