"""`zkpot job …`, run as the command would be, against a real Anvil with deployed contracts."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.api import chainwork
from zkpot.chain import ChainClient, JobEscrowClient, JobStatus
from zkpot.config import PROJECT_ROOT
from zkpot.manifest import Manifest
from zkpot.storage import open_store


@pytest.fixture
def job_settings(settings, anvil, circuit_cache):
    return settings.model_copy(update={"rpc_url": anvil.rpc_url, "circuit_dir": circuit_cache})


@pytest.fixture
def deployed(job_settings):
    return chainwork.deploy(job_settings)


def zkpot(settings, *args: str, key: str | None = chainwork.KEYS[0]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZKPOT_")}
    env.update(PYTHONPATH=str(PROJECT_ROOT), COLUMNS="200", ZKPOT_STATE_DIR=str(settings.state_dir),
               ZKPOT_RPC_URL=settings.rpc_url, ZKPOT_CIRCUIT_DIR=str(settings.circuit_dir))
    if key:
        env["ZKPOT_EMPLOYER_KEY"] = key
    return subprocess.run([sys.executable, "-m", "cli", "job", *args], env=env, text=True,
                          capture_output=True, timeout=300, cwd=PROJECT_ROOT)


CREATE = ("create", "--demo", "wine", "--preset", "wine-mlp", "--reward", "0.001",
          "--confirmations", "2", "--threshold", "0.5", "--deadline", "1h", "--shard-size", "16")


def test_create_status_and_publish_test_set(job_settings, deployed):
    done = zkpot(job_settings, *CREATE)
    assert done.returncode == 0, done.stdout + done.stderr
    # progress lines, and none of the zk libraries' own tables, timings or warnings
    assert "asking the chain" in done.stdout and "committing the test set" in done.stdout
    for noise in ("Numerical Fidelity", "INFO", "WARNING", "ezkl", "+------"):
        assert noise not in done.stdout + done.stderr, noise
    job_id = int(re.search(r"job (\d+) created: 3 stages", done.stdout).group(1))
    escrow = JobEscrowClient(ChainClient(job_settings.rpc_url), deployed.escrow)
    view = escrow.get_job(job_id)
    assert view.status == JobStatus.TRAINING and view.reward == 10**15 and view.confirmations == 2
    cid = re.search(r"manifest (b[a-z2-7]+)", done.stdout).group(1)
    manifest = Manifest.from_bytes(open_store(job_settings).get(cid))
    assert manifest.keccak() == view.manifest_hash and manifest.theta_bps == 5000

    status = zkpot(job_settings, "status", str(job_id), key=None)
    assert status.returncode == 0, status.stdout + status.stderr
    assert "training" in status.stdout and "0 of 3 final" in status.stdout
    assert "test set not posted (held privately here)" in status.stdout
    # what moves the job on and what the chain accepts now, from the one lifecycle
    assert "waiting for declarations of stage 1" in status.stdout
    assert "stage 1, attempt 1: commit phase" in status.stdout and "declare (nodes)" in status.stdout

    early = zkpot(job_settings, "publish-test-set", str(job_id))
    assert early.returncode == 1 and "still training" in early.stdout

    nodes = chainwork.node_clients(job_settings, deployed, 2)
    chainwork.register(nodes)
    weights = chainwork.train_and_finalise(job_settings, deployed, nodes, job_id, manifest)
    published = zkpot(job_settings, "publish-test-set", str(job_id))
    assert published.returncode == 0, published.stdout + published.stderr
    assert escrow.get_job(job_id).status == JobStatus.PROVING
    status = zkpot(job_settings, "status", str(job_id), key=None).stdout
    assert "proving" in status and "3 of 3 final" in status and weights[-1] in status
    assert "test set posted: 2 of 2 shards" in status and "0 of 2 shard proofs accepted" in status
    assert "submit_accuracy_proof (anyone)" in status


def test_clear_errors(job_settings, deployed):
    no_key = zkpot(job_settings, *CREATE, key=None)
    assert no_key.returncode == 1 and "ZKPOT_EMPLOYER_KEY" in no_key.stdout
    both = zkpot(job_settings, "create", "--demo", "wine", "--data", "x.csv", "--preset", "wine-mlp",
                 "--reward", "0.001")
    assert both.returncode == 1 and "exactly one of --demo NAME or --data FILE" in both.stdout
    bad_reward = zkpot(job_settings, "create", "--demo", "wine", "--preset", "wine-mlp", "--reward", "lots")
    assert bad_reward.returncode == 2 and "not an amount of ETH" in bad_reward.stderr
    unknown = zkpot(job_settings, "status", "999", key=None)
    assert unknown.returncode == 1 and "no job 999" in unknown.stdout
    early = zkpot(job_settings, "reclaim", str(chainwork.create_job(job_settings, deployed)))
    assert early.returncode == 1 and "reclaim refused by the contract" in early.stdout
