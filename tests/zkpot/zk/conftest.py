"""One tiny circuit (16 -> 8 -> 4 MLP, shards of N=8) set up once per session, its proofs, and
its verifiers (single-circuit and reusable) deployed on the session's Anvil."""

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
# small tables for a small circuit (2^13 rows, proofs in a second): the statement is the same
SMALL = zk.CircuitParams(decomp_base=256, decomp_legs=4, freivalds=False)


def tiny_model(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(FEATURES, 8), nn.ReLU(), nn.Linear(8, CLASSES))


def state_of(**tensors) -> dict[str, torch.Tensor]:
    """The tiny model's state dict: zeros, with the given tensors."""
    state = {k: torch.zeros_like(v) for k, v in tiny_model(0).state_dict().items()}
    state.update({k.replace("_", "."): torch.as_tensor(v, dtype=torch.float32)
                  for k, v in tensors.items()})
    return state


# models that must certify 0 correct samples
DEGENERATE = {
    "zero": state_of(),
    "constant output": state_of(**{"2_bias": [0.5] * CLASSES}),
    "tiny last layer": {**tiny_model(0).state_dict(),
                        "2.weight": torch.full((CLASSES, 8), 1e-4), "2.bias": torch.zeros(CLASSES)},
    # classes 0 and 1, 2 and 3 share their weights: every sample ties with its label's twin
    "tie-heavy": {**tiny_model(0).state_dict(),
                  "2.weight": tiny_model(0).state_dict()["2.weight"][[0, 0, 1, 1]],
                  "2.bias": tiny_model(0).state_dict()["2.bias"][[0, 0, 1, 1]]},
}


@pytest.fixture(scope="session")
def zk_settings(tmp_path_factory, circuit_cache) -> Settings:
    return Settings.from_env(environ={}, state_dir=tmp_path_factory.mktemp("zk-state"),
                             circuit_dir=circuit_cache)


@pytest.fixture(scope="session")
def model() -> nn.Module:
    return tiny_model(0)


@pytest.fixture(scope="session")
def circuit(zk_settings, model) -> zk.Circuit:
    return zk.ensure_circuit(model, (FEATURES,), CLASSES, N, zk_settings, params=SMALL)


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
def expected(circuit, model, test_set) -> dict:
    """What the verifier is told to expect for shard T: h_W and c_T recomputed from the data."""
    X, y = test_set
    return {"model_commitment": zk.weights_commitment(circuit, model.state_dict()),
            "test_set_commitment": zk.test_set_commitment(circuit, X[:N], y[:N])}


@pytest.fixture(scope="session")
def client(anvil) -> ChainClient:
    try:
        load_artifact(ADAPTER_NAME)
        load_artifact(VERIFIER_NAME)
    except ArtifactMissing:
        subprocess.run(["brownie", "compile"], cwd=PROJECT_ROOT, check=True, capture_output=True)
        load_artifact.cache_clear()
    return ChainClient(anvil.rpc_url, dev_private_keys(1)[0])


@pytest.fixture(scope="session", params=["single", "reusable"])
def adapter(request, client, circuit):
    """The circuit's EzklAccuracyVerifier over each kind of Halo2 verifier."""
    return client.contract(ADAPTER_NAME, deploy_accuracy_verifier(client, circuit, kind=request.param))


@pytest.fixture(scope="session")
def forged(circuit, test_set) -> zk.AccuracyProof:
    """A valid proof on T by another model (weights of seed 1)."""
    X, y = test_set
    return zk.prove_accuracy(circuit, tiny_model(1).state_dict(), X[:N], y[:N])
