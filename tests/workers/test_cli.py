"""The operator CLI, run as the `zkpot` command would be, against a real deployment."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.workers.conftest import KEYS
from tests.workers.jobs import create_tiny_job
from zkpot.config import PROJECT_ROOT


def zkpot(world, *args: str, **env: str) -> str:
    full = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT), COLUMNS="200",
                **{f"ZKPOT_{k.upper()}": str(v) for k, v in world.env(4).items()
                   if k != "node_key"}, **env)
    done = subprocess.run([sys.executable, "-m", "cli", *args], env=full, text=True,
                          capture_output=True, timeout=120, cwd=PROJECT_ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_init_register_status_withdraw(world, tmp_path):
    keystore = tmp_path / "node.json"
    # import the dev key non-interactively: the key is read from stdin
    full = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT), ZKPOT_NODE_KEYSTORE_PASSWORD="secret",
                ZKPOT_STATE_DIR=str(tmp_path / "state"))
    done = subprocess.run([sys.executable, "-m", "cli", "node", "init", "--keystore",
                           str(keystore), "--import-key"], env=full, text=True,
                          input=KEYS[4] + "\n", capture_output=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65" in done.stdout
    assert KEYS[4][2:] not in done.stdout

    env = dict(ZKPOT_NODE_KEYSTORE=str(keystore), ZKPOT_NODE_KEYSTORE_PASSWORD="secret")
    assert "registered with a stake" in zkpot(world, "node", "register", **env)
    job = create_tiny_job(world.rpc_url, KEYS[0], world.deployment, world.store, stages=1,
                          confirmations=1)
    status = zkpot(world, "node", "status", **env)
    assert "active: True" in status
    assert "open (0/1 final)" in status and str(job.job_id) in status and "commit" in status
    assert "nothing to withdraw" in zkpot(world, "node", "withdraw", "--direct", **env)


def test_job_status_counts_accepted_shard_proofs_on_a_multi_shard_job(world, start_node):
    """5 shards, 3 proofs accepted: `zkpot job status` shows the chain's count, not its bits."""
    from tests.workers.test_proving import _mock_proof
    from tests.workers.jobs import tiny_shard, tiny_shard_commitment
    from zkpot.hashing import keccak
    from zkpot.node import training
    from zkpot.node.outcomes import OutcomeKind

    node = start_node(1, workers=False).node
    job = create_tiny_job(world.rpc_url, KEYS[0], world.deployment, world.store, stages=1,
                          confirmations=1, shards=5)
    result = training.TrainedStage(weights=b"S1", weights_hash=keccak(b"S1"), model_commitment=777,
                                   rho=keccak(b"rho"))
    rand = keccak(b"rand")
    node.store.save_trained(job.job_id, 1, 0, weights_hash=result.weights_hash, model_commitment=777,
                            rho=result.rho, rand=rand,
                            commitment=training.commit(result, rand, node.identity.address), weights=b"S1")
    assert node.declare(job.job_id, 1, 0).kind is OutcomeKind.DONE
    assert node.reveal(job.job_id, 1, 0).kind is OutcomeKind.DONE
    employer = world.escrow(0)
    for shard in range(5):
        employer.publish_test_shard(job.job_id, shard, tiny_shard(shard))
    for shard in (0, 2, 4):   # bits 0b10101 = 21: a recount of bits would not say 3
        proof = _mock_proof(tiny_shard_commitment(shard), 777, correct=1)
        node.chain.escrow.submit_accuracy_proof(job.job_id, shard, bytes.fromhex(proof["proof"]),
                                                [int(v) for v in proof["instances"]])
    out = zkpot(world, "job", "status", str(job.job_id))
    assert "test set posted: 5 of 5 shards; 3 of 5 shard proofs accepted" in out
