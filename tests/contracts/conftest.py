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
SLASH = MIN_STAKE // 2          # one minimum stake backs two open declarations
COOLDOWN = 3600
REWARD = 10**15
BOUNTY = 10**16
DAY = 24 * 3600
COMMIT_WINDOW = 600
REVEAL_WINDOW = 600
WEIGHTS = keccak(b"weights S1")
MODEL = 12345
SHARD = keccak(b"test shard 0")
SHARD_DATA = b"zkpot test shard 0: the canonical bytes of its samples"
CID = "bafyweights"


@pytest.fixture(autouse=True)
def isolation(fn_isolation):
    pass


@contextmanager
def reverts(name: str):
    """Expect a revert with custom error ``name`` (brownie shows it as ``"Name: args"``)."""
    with pytest.raises(brownie.exceptions.VirtualMachineError) as info:
        yield info
    assert (info.value.revert_msg or "").split(":")[0] == name, info.value.revert_msg


def commitment(rho: bytes, weights: bytes, model: int, rand: bytes, node) -> bytes:
    return keccak(rho + weights + model.to_bytes(32, "big") + rand + bytes.fromhex(str(node)[2:]))


def opening_key(rho: bytes, weights: bytes, model: int, cid: str) -> bytes:
    return keccak(rho + weights + model.to_bytes(32, "big") + keccak(cid.encode()))


def proof(test_set: bytes, model: int, correct: int) -> bytes:
    """A MockAccuracyVerifier proof of (test set, model, correct count)."""
    return encode(["bytes32", "uint256", "uint256"], [test_set, model, correct])


def job_params(mock, **over):
    p = dict(manifestHash=keccak(b"manifest"), manifestCid="bafymanifest", stages=2, confirmations=3,
             reward=REWARD, bounty=BOUNTY, threshold=50, samples=64, shardCommitments=[SHARD],
             shardDataHashes=[keccak(SHARD_DATA)], verifier=mock.address,
             deadline=chain.time() + 10 * DAY, commitWindow=COMMIT_WINDOW, revealWindow=REVEAL_WINDOW,
             testSetWindow=DAY, proofWindow=DAY)
    p.update(over)
    escrowed = p["stages"] * p["confirmations"] * p["reward"] + p["bounty"]
    return tuple(p.values()), escrowed


def create_job(escrow, employer, verifier, **over) -> int:
    params, value = job_params(verifier, **over)
    return escrow.createJob(params, {"from": employer, "value": value}).return_value


class Stage:
    """Declarations of one stage attempt: by default honest (same ρ, H(S), h_W, CID; own rand
    per node). Each node's opening is remembered at declaration, so ``reveal`` opens it."""

    def __init__(self, escrow, job_id, stage, weights=None, model=MODEL, rho=None, cid=CID):
        self.escrow, self.job_id, self.stage = escrow, job_id, stage
        self.weights = weights or keccak(b"weights S%d" % stage)
        self.model, self.cid = model, cid
        self.rho = rho or keccak(os.urandom(32))
        self.openings = {}

    def honest(self):
        return (self.rho, self.weights, self.model, self.cid)

    def declare(self, node, rho=None, weights=None, model=None, cid=None, rand=None, commit=None, tx=None):
        rho, weights = rho or self.rho, weights or self.weights
        model = self.model if model is None else model
        cid = cid or self.cid
        rand = rand or os.urandom(32)
        commit = commit or commitment(rho, weights, model, rand, node)
        self.openings[node.address] = (rho, weights, model, rand, cid)
        return self.escrow.declare(self.job_id, self.stage, commit, {"from": node, **(tx or {})})

    def reveal(self, node, opening=None, tx=None):
        opening = opening or self.openings[node.address]
        return self.escrow.reveal(self.job_id, self.stage, opening, {"from": node, **(tx or {})})

    def close_commit(self):
        """Let the commit window pass (when the count did not close it)."""
        chain.sleep(COMMIT_WINDOW + 1)
        chain.mine()

    def run(self, nodes, revealers=None):
        """Declare with ``nodes``, close the commit phase, reveal with ``revealers`` (default
        all of ``nodes``, in order); returns the reveal transactions."""
        for node in nodes:
            self.declare(node)
        if self.escrow.attemptOf(self.job_id).dict()["phase"] == 1:
            self.close_commit()
        return [self.reveal(n) for n in (nodes if revealers is None else revealers)]


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
    """Nine registered nodes (each stake backs two open declarations): seven of Anvil's
    accounts and two local keys funded by accounts[0]; accounts[8] and [9] stay strangers."""
    extra = [accounts.add() for _ in range(2)]
    for account in extra:
        accounts[0].transfer(account, "100 ether")
    registered = list(accounts[1:8]) + extra
    for node in registered:
        registry.register({"from": node, "value": MIN_STAKE})
    return registered


@pytest.fixture(scope="module")
def job(escrow, employer, verifier, nodes):
    """A job id: 2 stages, C=3, one test shard."""
    return create_job(escrow, employer, verifier)


def finish_training(escrow, job_id, nodes, stages=2, model=MODEL):
    """Runs every stage honestly with nodes[:3]; returns the last Stage."""
    for s in range(1, stages + 1):
        st = Stage(escrow, job_id, s, model=model)
        st.run(nodes[:3])
    return st


def publish_test_set(escrow, job_id, employer, data=SHARD_DATA):
    return escrow.publishTestShard(job_id, 0, data, {"from": employer})
