"""Fixtures for the contract tests: module-scoped deployments, function isolation, helpers."""

from __future__ import annotations

import os
from contextlib import contextmanager

import brownie
import pytest
from brownie import JobEscrow, MockAccuracyVerifier, NodeRegistry, chain
from eth_abi import encode
from eth_utils import keccak

MIN_STAKE = 10**17
SLASH = MIN_STAKE // 2
COOLDOWN = 3600
REWARD = 10**15
BOUNTY = 10**16
DAY = 24 * 3600
WEIGHTS = keccak(b"weights S1")
MODEL = 12345
SHARD = keccak(b"test shard 0")


@pytest.fixture(autouse=True)
def isolation(fn_isolation):
    pass


@contextmanager
def reverts(name: str):
    """Expect a revert with custom error ``name`` (brownie shows it as ``"Name: args"``)."""
    with pytest.raises(brownie.exceptions.VirtualMachineError) as info:
        yield info
    assert (info.value.revert_msg or "").split(":")[0] == name, info.value.revert_msg


def commitment(rho: bytes, rand: bytes, node) -> bytes:
    return keccak(rho + rand + bytes.fromhex(str(node)[2:]))


def proof(test_set: bytes, model: int, correct: int) -> bytes:
    """A MockAccuracyVerifier proof of (test set, model, correct count)."""
    return encode(["bytes32", "uint256", "uint256"], [test_set, model, correct])


def job_params(mock, **over):
    p = dict(manifestHash=keccak(b"manifest"), manifestCid="bafymanifest", stages=2, confirmations=3,
             reward=REWARD, bounty=BOUNTY, threshold=50, samples=64, shardCommitments=[SHARD],
             verifier=mock.address, deadline=chain.time() + 10 * DAY, testSetWindow=DAY,
             proofWindow=DAY)
    p.update(over)
    escrowed = p["stages"] * p["confirmations"] * p["reward"] + p["bounty"]
    return tuple(p.values()), escrowed


class Stage:
    """Honest declarations of one stage: same weights, same rho, own rand per node."""

    def __init__(self, escrow, job_id, stage, weights=WEIGHTS, model=MODEL, rho=None):
        self.escrow, self.job_id, self.stage = escrow, job_id, stage
        self.weights, self.model = weights, model
        self.rho = rho or keccak(os.urandom(32))
        self.decls = []

    def declare(self, node, weights=None, model=None, rho=None, rand=None, commit=None):
        rand = rand or os.urandom(32)
        weights = weights or self.weights
        model = self.model if model is None else model
        commit = commit or commitment(rho or self.rho, rand, node)
        tx = self.escrow.declare(self.job_id, self.stage, weights, model, commit, rand, {"from": node})
        self.decls.append((node.address, weights, model, commit, rand))
        return tx

    def ordered(self):
        return sorted(self.decls, key=lambda d: int(d[0], 16))

    def reveal(self, by, rho=None, cid="bafyweights", decls=None):
        decls = self.ordered() if decls is None else decls
        return self.escrow.reveal(self.job_id, self.stage, rho or self.rho, cid, decls, {"from": by})


@pytest.fixture(scope="module")
def employer(accounts):
    return accounts[0]


@pytest.fixture(scope="module")
def escrow(employer):
    return JobEscrow.deploy(MIN_STAKE, SLASH, COOLDOWN, {"from": employer})


@pytest.fixture(scope="module")
def registry(escrow):
    return NodeRegistry.at(escrow.registry())


@pytest.fixture(scope="module")
def verifier(employer):
    return MockAccuracyVerifier.deploy({"from": employer})


@pytest.fixture(scope="module")
def nodes(accounts, registry):
    """Five registered nodes."""
    for node in accounts[1:6]:
        registry.register({"from": node, "value": MIN_STAKE})
    return list(accounts[1:6])


@pytest.fixture(scope="module")
def job(escrow, employer, verifier, nodes):
    """A job id: 2 stages, C=3, one test shard."""
    params, value = job_params(verifier)
    return escrow.createJob(params, {"from": employer, "value": value}).return_value


def finish_training(escrow, job_id, nodes, stages=2, model=MODEL):
    """Runs every stage honestly with nodes[:3]; returns the last Stage."""
    for s in range(1, stages + 1):
        st = Stage(escrow, job_id, s, weights=keccak(b"w%d" % s), model=model)
        for node in nodes[:3]:
            st.declare(node)
        st.reveal(nodes[0])
    return st
