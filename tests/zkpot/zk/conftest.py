"""One tiny circuit (16 -> 8 -> 4 MLP, shards of N=8) set up once per session, its proofs, and
its verifier deployed on the session's Anvil."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
import torch
from torch import nn

from zkpot import zk
from zkpot.chain import ArtifactMissing, ChainClient, load_artifact
from zkpot.config import PROJECT_ROOT, Settings
from zkpot.devnet import dev_private_keys
from zkpot.zk.evm import ADAPTER_NAME, VERIFIER_NAME, deploy_accuracy_verifier

N = 8
FEATURES = 16
CLASSES = 4


def tiny_model(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(FEATURES, 8), nn.ReLU(), nn.Linear(8, CLASSES))


@pytest.fixture(scope="session")
def zk_settings(tmp_path_factory, circuit_cache) -> Settings:
    return Settings.from_env(environ={}, state_dir=tmp_path_factory.mktemp("zk-state"),
                             circuit_dir=circuit_cache)


@pytest.fixture(scope="session")
def model() -> nn.Module:
    return tiny_model(0)


@pytest.fixture(scope="session")
def circuit(zk_settings, model) -> zk.Circuit:
    return zk.ensure_circuit(model, (FEATURES,), CLASSES, N, zk_settings)


@pytest.fixture(scope="session")
def test_set():
    """Two shards: T (the claimed test set) and T' (another one)."""
    rng = np.random.default_rng(1)
    return rng.random((2 * N, FEATURES), dtype=np.float32), rng.integers(0, CLASSES, 2 * N)


@pytest.fixture(scope="session")
def certificate(circuit, model, test_set) -> list[zk.AccuracyProof]:
    X, y = test_set
    return zk.prove_certificate(circuit, model.state_dict(), X, y)


@pytest.fixture(scope="session")
def proof(certificate) -> zk.AccuracyProof:
    """The proof on shard T."""
    return certificate[0]


@pytest.fixture(scope="session")
def client(anvil) -> ChainClient:
    try:
        load_artifact(ADAPTER_NAME)
        load_artifact(VERIFIER_NAME)
    except ArtifactMissing:
        subprocess.run(["brownie", "compile"], cwd=PROJECT_ROOT, check=True, capture_output=True)
        load_artifact.cache_clear()
    return ChainClient(anvil.rpc_url, dev_private_keys(1)[0])


@pytest.fixture(scope="session")
def adapter(client, circuit):
    return client.contract(ADAPTER_NAME, deploy_accuracy_verifier(client, circuit))


@pytest.fixture(scope="session")
def forged(circuit, test_set) -> zk.AccuracyProof:
    """A valid proof on T by another model (weights of seed 1)."""
    X, y = test_set
    return zk.prove_accuracy(circuit, tiny_model(1).state_dict(), X[:N], y[:N])
