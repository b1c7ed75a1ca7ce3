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
