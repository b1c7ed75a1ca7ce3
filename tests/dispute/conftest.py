"""The one-step prover on a real Anvil, for tests that need the stage function's own code
(torch, in the runtime environment) as their reference; brownie's environment has no torch."""

from __future__ import annotations

from contextlib import contextmanager

import pytest

from zkpot.chain import ChainClient, ContractError
from zkpot.devnet import dev_private_keys


class Prover:
    """``OneStepProver``'s views, called as ``prover.productStep(a, x, w)``; bytes come back as
    0x-hex strings (as the tests write roots)."""

    def __init__(self, client: ChainClient):
        self.client = client
        self.contract = client.deploy("OneStepProver")

    def __getattr__(self, name: str):
        fn = getattr(self.contract.functions, name)
        return lambda *args: _hex(self.client.call(fn(*args)))


def _hex(value):
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, (list, tuple)):
        return type(value)(_hex(v) for v in value)
    return value


@contextmanager
def reverts(name: str):
    """Expect the call to revert with custom error ``name``."""
    with pytest.raises(ContractError) as info:
        yield info
    assert info.value.name == name, str(info.value)


@pytest.fixture(scope="module")
def prover(anvil):
    return Prover(ChainClient(anvil.rpc_url, dev_private_keys(1)[0]))
