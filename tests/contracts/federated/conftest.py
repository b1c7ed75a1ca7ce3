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
COMMIT_WINDOW = 600
REVEAL_WINDOW = 600
DEADLINE_IN = 3 * (COMMIT_WINDOW + REVEAL_WINDOW)
MARGIN = 2  # minImprovement: samples an update must gain over the round's global model


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
        commit_window=COMMIT_WINDOW, reveal_window=REVEAL_WINDOW, margin=MARGIN,
        initial_proofs=[], initial_instances=[],
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


def phases(fl, task_id):
    """The open round's (start, end of the commit phase, end of the reveal phase)."""
    return tuple(fl.roundPhases(task_id))


def to_reveal(fl, task_id):
    """Let the open round's commit phase end (when it has not)."""
    _sleep_until(phases(fl, task_id)[1])


def to_round_end(fl, task_id):
    """Let the open round's reveal phase end (when it has not): the round may be closed."""
    _sleep_until(phases(fl, task_id)[2])


def _sleep_until(when):
    """Mine a block at ``when`` or later (the last block's time is what the next one follows)."""
    from brownie import chain

    now = chain[-1].timestamp
    if now < when:
        chain.sleep(when - now)
        chain.mine()


def commit(fl, task_id, participant, model, round_=0, cid="bafy-update", tx=None):
    """Commit to an update in the participant's name (in the round's commit phase)."""
    return fl.commitUpdate(task_id, round_, commitment_of(task_id, round_, participant, model, cid),
                           {"from": participant, **(tx or {})})


def reveal(fl, task_id, participant, model, counts=(24, 24), round_=0, cid="bafy-update", shards=SHARDS, tx=None,
           wait=True):
    """submitUpdate: the proofs of the committed update (moving on to the reveal phase first)."""
    if wait:
        to_reveal(fl, task_id)
    proofs, instances = update(model, counts, shards)
    return fl.submitUpdate(task_id, round_, proofs, instances, cid, {"from": participant, **(tx or {})})


def submit(fl, task_id, participant, model, counts=(24, 24), round_=0, cid="bafy-update", shards=SHARDS):
    """Commit, then reveal in the reveal phase."""
    commit(fl, task_id, participant, model, round_, cid)
    return reveal(fl, task_id, participant, model, counts, round_, cid, shards)


def submit_all(fl, task_id, updates, round_=0):
    """Every (participant, model[, counts]) commits, then every one reveals; the reveals' txs."""
    for u in updates:
        commit(fl, task_id, u[0], u[1], round_)
    return [reveal(fl, task_id, u[0], u[1], *(u[2:3] or [(24, 24)]), round_=round_) for u in updates]


def close(fl, task_id, employer, model=999, cid="bafy-g", round_=None, counts=(16, 16), proven=True):
    """Close the open round once its reveal phase is over, the new global model proven to
    classify ``counts`` right (``proven=False``: no proofs, for an unchanged model)."""
    to_round_end(fl, task_id)
    round_ = fl.getTask(task_id)["round"] if round_ is None else round_
    proofs, instances = update(model, counts) if proven else ([], [])
    return fl.closeRound(task_id, round_, model, cid, proofs, instances, {"from": employer})
