"""The one-step prover and the dispute game on a real Anvil, for tests that need the stage
function's own code (torch, in the runtime environment) as their reference; brownie's
environment has no torch."""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import pytest

from zkpot.chain import ChainClient, ContractError
from zkpot.chain.dispute import Dispute, deploy
from zkpot.datasets import demo_dataset
from zkpot.devnet import Anvil, dev_private_keys
from zkpot.pot.game import Side
from zkpot.spec import ModelSpec
from zkpot.stage import initial_weights


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


# ---- the dispute game

BOND = 10**16
WINDOW, RESPONSE = 3600, 600


def mlp(momentum: float, widths=(64, 16, 12, 10), batch: int = 8) -> ModelSpec:
    layers = []
    for i, (a, b) in enumerate(zip(widths, widths[1:])):
        layers += ([{"type": "ReLU"}] if i else []) + [{"type": "Linear", "in_features": a, "out_features": b}]
    return ModelSpec.from_json({"layers": layers, "optimizer": {"type": "sgd", "lr": 0.1, "momentum": momentum},
                                "batch_size": batch, "seed": 3})


def side_for(spec: ModelSpec, samples: int = 41) -> Side:
    # 41 samples in batches of 8: five batches, the last of 9 (a trailing sample joins it)
    return Side(spec, initial_weights(spec), demo_dataset("digits").subset(np.arange(samples)), 1)


@pytest.fixture(scope="module")
def accounts(tmp_path_factory):
    """Four funded accounts on an Anvil of the module's own: games move its clock by hours."""
    with Anvil(log_dir=tmp_path_factory.mktemp("game-anvil")) as chain:
        yield [ChainClient(chain.rpc_url, k) for k in dev_private_keys(4)]


@pytest.fixture(scope="module")
def deployment(accounts):
    return deploy(accounts[0], min_bond=BOND, challenge_window=WINDOW, response_window=RESPONSE)


def dispute(accounts, deployment, i: int) -> Dispute:
    return Dispute(accounts[i], deployment.game)


def advance(client: ChainClient, seconds: int) -> None:
    client.w3.provider.make_request("evm_increaseTime", [seconds])
    client.w3.provider.make_request("evm_mine", [])
