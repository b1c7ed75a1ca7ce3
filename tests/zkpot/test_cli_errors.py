"""The CLI against hostile strings and everyday mistakes: plain text, one line, exit 1, nothing
stored — never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from eth_account import Account

from tests.api import chainwork
from zkpot.config import PROJECT_ROOT
from zkpot.devnet import free_port
from zkpot.hashing import keccak

CREATE = ("create", "--demo", "wine", "--preset", "wine-mlp", "--reward", "0.001",
          "--threshold", "0.5", "--deadline", "1h", "--shard-size", "16")
HOSTILE = "[/oops] [bold red]x[/] [link=javascript:alert(1)]y[/link]"


@pytest.fixture
def cli_settings(settings, anvil, redis_server, circuit_cache):
    return settings.model_copy(update={"rpc_url": anvil.rpc_url, "circuit_dir": circuit_cache,
                                       "redis_url": redis_server.url})


@pytest.fixture
def deployed(cli_settings):
    return chainwork.deploy(cli_settings)


def zkpot(settings, *args: str, **env: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("ZKPOT_")}
    full.update(PYTHONPATH=str(PROJECT_ROOT), COLUMNS="100", ZKPOT_STATE_DIR=str(settings.state_dir),
                ZKPOT_RPC_URL=settings.rpc_url, ZKPOT_CIRCUIT_DIR=str(settings.circuit_dir),
                ZKPOT_REDIS_URL=settings.redis_url)
    full.update(env)
    return subprocess.run([sys.executable, "-m", "cli", *args], env=full, text=True,
                          capture_output=True, timeout=300, cwd=PROJECT_ROOT)


def _one_line_failure(done: subprocess.CompletedProcess, *words: str) -> None:
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    lines = done.stdout.strip().splitlines()
    # progress lines may come first; the failure is the last line, and the only error line
    assert "Traceback" not in out and done.stderr.strip() == "", out
    assert lines[-1].startswith("error: ") and sum(line.startswith("error") for line in lines) == 1, out
    for w in words:
        assert w in lines[-1], out


def _stored(settings) -> list:
    return [p for p in settings.state_dir.rglob("*") if p.is_file()
            and ("store" in p.parts or "private" in p.parts)]


def test_job_status_prints_hostile_cids_as_plain_text(cli_settings, deployed):
    nodes = chainwork.node_clients(cli_settings, deployed, 2)
    chainwork.register(nodes)
    job_id = chainwork.create_job(cli_settings, deployed, stages=1, manifest_cid=HOSTILE)
    rho = os.urandom(32)
    openings = chainwork.declare_stage(nodes, job_id, 1, keccak(b"w"), rho, HOSTILE)
    chainwork.reveal_stage(cli_settings, nodes, job_id, 1, openings)
    done = zkpot(cli_settings, "job", "status", str(job_id))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "MarkupError" not in done.stderr and "[/oops]" in done.stdout
    # the manifest CID and the finalised weights CID show as the literal text, markup and all
    assert "[bold red]x[/]" in done.stdout and "[link=javascript" in done.stdout


def test_job_create_with_a_malformed_key_is_one_line(cli_settings, deployed):
    done = zkpot(cli_settings, "job", *CREATE, ZKPOT_EMPLOYER_KEY="0xnot-a-key")
    _one_line_failure(done, "ZKPOT_EMPLOYER_KEY is not a private key")
    assert "not-a-key" not in done.stdout


def test_job_create_without_funds_fails_before_storing(cli_settings, deployed):
    poor = Account.create().key.to_0x_hex()
    done = zkpot(cli_settings, "job", *CREATE, ZKPOT_EMPLOYER_KEY=poor)
    _one_line_failure(done, "holds 0 ETH", "this job escrows")
    assert _stored(cli_settings) == []


def test_job_create_with_a_reward_over_the_contracts_limit_fails_before_storing(cli_settings, deployed):
    args = [a if a != "0.001" else "18.5" for a in CREATE]   # 1.85e19 wei > 2^64 - 1
    done = zkpot(cli_settings, "job", *args, ZKPOT_EMPLOYER_KEY=chainwork.KEYS[0])
    _one_line_failure(done, "reward_per_declaration", "2^64 - 1")
    assert _stored(cli_settings) == []


def test_job_create_with_an_unreachable_chain_fails_before_any_work(cli_settings, deployed):
    gone = cli_settings.model_copy(update={"rpc_url": f"http://127.0.0.1:{free_port()}"})
    done = zkpot(gone, "job", *CREATE, ZKPOT_EMPLOYER_KEY=chainwork.KEYS[0])
    _one_line_failure(done, "does not answer")
    assert _stored(cli_settings) == [] and not (cli_settings.state_dir / "private").exists()


def test_node_register_with_a_negative_stake_is_one_line(cli_settings, deployed):
    done = zkpot(cli_settings, "node", "register", "--stake=-1", ZKPOT_NODE_KEY=chainwork.KEYS[4])
    _one_line_failure(done, "--stake", "negative")


def test_node_register_without_funds_is_one_line(cli_settings, deployed):
    done = zkpot(cli_settings, "node", "register", ZKPOT_NODE_KEY=Account.create().key.to_0x_hex())
    _one_line_failure(done, "register failed", "cannot pay")


def test_node_withdraw_with_no_running_worker_is_one_line(cli_settings, deployed):
    done = zkpot(cli_settings, "node", "withdraw", "--timeout", "5", ZKPOT_NODE_KEY=chainwork.KEYS[4])
    _one_line_failure(done, "no chain worker of node", "zkpot node run")
    gone = zkpot(cli_settings, "node", "withdraw", ZKPOT_NODE_KEY=chainwork.KEYS[4],
                 ZKPOT_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    _one_line_failure(gone, "does not answer")
