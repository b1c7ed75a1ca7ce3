"""FederatedTask unit-test fixtures: the contract, a mock verifier and a default task."""

from __future__ import annotations

import pytest
from eth_abi import encode

SHARDS = [b"\x11" * 32, b"\x22" * 32]
SAMPLES = 64  # N over both shards
THRESHOLD = 40
ROUNDS = 2
MAX_UPDATES = 3
REWARD = 10**18
ESCROW = ROUNDS * MAX_UPDATES * REWARD
ENC_KEY = b"\x7a" * 32
INITIAL_MODEL = 12345
DEADLINE_IN = 3600


@pytest.fixture(autouse=True)
def isolation(fn_isolation):
    pass


@pytest.fixture(scope="module")
def employer(accounts):
    return accounts[0]


@pytest.fixture(scope="module")
def participants(accounts):
    return accounts[1:6]


@pytest.fixture(scope="module")
def verifier(MockAccuracyVerifier, accounts):
    return MockAccuracyVerifier.deploy({"from": accounts[0]})


@pytest.fixture(scope="module")
def fl(FederatedTask, accounts):
    return FederatedTask.deploy({"from": accounts[0]})


def params(verifier, chain, **overrides):
    """TaskParams as the tuple the ABI wants, with defaults a test can override."""
    values = dict(
        verifier=verifier.address, shards=SHARDS, manifest_cid="bafy-manifest", samples=SAMPLES, threshold=THRESHOLD,
        rounds=ROUNDS, max_updates=MAX_UPDATES, reward=REWARD, key=ENC_KEY,
        model=INITIAL_MODEL, cid="bafy-initial", deadline=chain.time() + DEADLINE_IN,
    )
    values.update(overrides)
    return tuple(values.values())


def escrow_of(rounds=ROUNDS, max_updates=MAX_UPDATES, reward=REWARD) -> int:
    return rounds * max_updates * reward


@pytest.fixture(scope="module")
def task_id(fl, verifier, employer, chain):
    tx = fl.createTask(params(verifier, chain), {"from": employer, "value": ESCROW})
    return tx.return_value


def mock_proof(test_set: bytes, model: int, count: int) -> bytes:
    """What MockAccuracyVerifier reads as (test-set commitment, model commitment, count)."""
    return encode(["bytes32", "uint256", "uint256"], [test_set, model, count])


def update(model: int, counts=(24, 24), shards=SHARDS):
    """Proofs and instances for one update: one mock proof per shard of one model."""
    proofs = [mock_proof(s, model, c) for s, c in zip(shards, counts)]
    return proofs, [[model, c] for c in counts]


def commitment_of(task_id, round_, participant, model, cid="bafy-update") -> bytes:
    """What commitUpdate binds: the update (model commitment, CID) to its task, round and sender."""
    from zkpot.federated.commitment import update_commitment

    return update_commitment(task_id, round_, str(participant), model, cid)


def commit(fl, task_id, participant, model, round_=0, cid="bafy-update", tx=None):
    """Commit to an update in the participant's name (a block before it can be revealed)."""
    return fl.commitUpdate(task_id, round_, commitment_of(task_id, round_, participant, model, cid),
                           {"from": participant, **(tx or {})})


def reveal(fl, task_id, participant, model, counts=(24, 24), round_=0, cid="bafy-update", shards=SHARDS, tx=None):
    """submitUpdate: the proofs of the committed update."""
    proofs, instances = update(model, counts, shards)
    return fl.submitUpdate(task_id, round_, proofs, instances, cid, {"from": participant, **(tx or {})})


def submit(fl, task_id, participant, model, counts=(24, 24), round_=0, cid="bafy-update", shards=SHARDS):
    """Commit, then reveal in the next block (Anvil mines a block per transaction)."""
    commit(fl, task_id, participant, model, round_, cid)
    return reveal(fl, task_id, participant, model, counts, round_, cid, shards)
