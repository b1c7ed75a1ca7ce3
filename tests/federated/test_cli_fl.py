"""``zkpot fl …`` as a user runs it: the real CLI against a real Anvil, real contracts and proofs.

The employer makes its key, deploys FederatedTask, creates a one-round task; one honest
participant trains on a private .npz, commits in the commit phase, reveals in the reveal phase
and is paid by its proven accuracy; the employer's close is refused until the reveal phase is
over, then closes the round; ``status`` shows the phase, the accepted update and its reward.
Waits go through ``cli.fl.chain_clock``, here the dev chain's clock moved forward (this
package's own Anvil). The task's model is the tiny MLP of the federation test (registered as a
preset here), so the circuit cache is shared.
"""

from __future__ import annotations

import re
import stat

import numpy as np
import pytest
from eth_account import Account
from rich.console import Console
from typer.testing import CliRunner

from cli import fl as cli_fl
from cli import app
from zkpot.chain.clock import DevChainClock
from zkpot.config import Settings, get_settings
from zkpot.datasets import demo_dataset
from zkpot.devnet import dev_private_keys
from zkpot.federated.chain import TaskStatus
from zkpot.federated.crypto import EncryptionKeyPair
from zkpot_flower.federation import FederationConfig

TINY = "fl-tiny"  # the 64-8-10 MLP of tests/federated/test_federation_e2e.py
REWARD = 10**15
COMMIT_S, REVEAL_S = 1800, 300  # far wider than the work: the dev clock skips the rest


def invoke(args: list[str], env: dict[str, str] | None = None):
    """One ``zkpot`` command; settings are read afresh, as in a new process."""
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(app, args, env=env)
    finally:
        get_settings.cache_clear()


def test_keygen_writes_a_private_key_only_its_owner_reads(tmp_path):
    path = tmp_path / "employer.x25519"
    result = invoke(["fl", "keygen", str(path)])
    assert result.exit_code == 0, result.output
    keys = EncryptionKeyPair.from_private(bytes.fromhex(path.read_text().strip()))
    assert f"0x{keys.public.hex()}" in result.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_keygen_never_overwrites_a_key(tmp_path):
    path = tmp_path / "employer.x25519"
    path.write_text("existing")
    result = invoke(["fl", "keygen", str(path)])
    assert result.exit_code == 1
    assert path.read_text() == "existing"


# -- one round on a chain, command by command ---------------------------------------------------

@pytest.fixture(scope="module")
def fl(anvil, circuit_cache, tmp_path_factory):
    """Environment of the employer and the participant: one state dir, store and deployment map."""
    root = tmp_path_factory.mktemp("fl-cli")
    employer_key, node_key = dev_private_keys(10)[8:10]  # accounts no other test signs with
    env = {"ZKPOT_STATE_DIR": str(root / "state"), "ZKPOT_CIRCUIT_DIR": str(circuit_cache),
           "ZKPOT_RPC_URL": anvil.rpc_url, "ZKPOT_STORAGE_BACKEND": "local",
           "ZKPOT_EMPLOYER_KEY": employer_key, "ZKPOT_NODE_KEY": node_key}
    private = root / "private.npz"  # the participant's own data: only a path on the command line
    ds = demo_dataset("digits")
    pick = np.random.default_rng(5).permutation(len(ds))[:600]
    np.savez(private, x=ds.features[pick], y=ds.labels[pick])
    with pytest.MonkeyPatch.context() as mp:
        from zkpot.spec import PRESETS
        from zkpot.zk.presets import PRESET_SHAPES

        mp.setitem(PRESETS, TINY, FederationConfig().spec().to_dict())
        mp.setitem(PRESET_SHAPES, TINY, ((64,), 10))
        mp.setattr(cli_fl, "console", Console(width=400))  # table rows on one line each
        mp.setattr(cli_fl, "chain_clock", DevChainClock)  # participate skips the rest of the commit phase
        yield {"env": env, "root": root, "private": private, "employer_key": employer_key,
               "node_key": node_key, "settings": Settings.from_env(environ=env)}


@pytest.fixture(scope="module")
def deployed(fl):
    """The employer's key (keygen) and a FederatedTask (deploy), by the commands."""
    key_file = fl["root"] / "employer.x25519"
    out = {}
    for name, args in [("keygen", ["fl", "keygen", str(key_file)]), ("deploy", ["fl", "deploy"])]:
        out[name] = invoke(args, fl["env"])
        assert out[name].exit_code == 0, f"{name}: {out[name].output}{out[name].exception!r}"
    return {"out": out, "key_file": key_file}


@pytest.fixture(scope="module")
def task(fl, deployed):
    """create (1 round) → status → participate → status → close (refused) → the reveal phase
    ends → status → close → status, each a zkpot command."""
    env, key_file = fl["env"], deployed["key_file"]
    out = dict(deployed["out"])
    out["create"] = invoke(["fl", "create", "--key-file", str(key_file), "--preset", TINY, "--shard-size", "16",
                            "--shards", "2", "--threshold", "0.4", "--rounds", "1", "--max-updates", "1",
                            "--reward-wei", str(REWARD), "--commit-window", str(COMMIT_S),
                            "--reveal-window", str(REVEAL_S)], env)
    assert out["create"].exit_code == 0, f"create: {out['create'].output}{out['create'].exception!r}"
    task_id = int(re.search(r"task (\d+) created", out["create"].output).group(1))
    client = cli_fl._task_client(fl["settings"], employer=None)
    steps = [("status_commit", ["fl", "status", str(task_id)]),
             ("participate", ["fl", "participate", str(task_id), "--data", str(fl["private"])]),
             ("status_reveal", ["fl", "status", str(task_id)]),
             ("close_early", ["fl", "close", str(task_id), "--key-file", str(key_file)]),
             ("reveal_end", None),
             ("status_over", ["fl", "status", str(task_id)]),
             ("close", ["fl", "close", str(task_id), "--key-file", str(key_file)]),
             ("status", ["fl", "status", str(task_id)])]
    for name, args in steps:
        if args is None:  # the reveal phase runs out (moved over on the dev chain)
            DevChainClock(client.client).wait_until(client.round_phases(task_id).reveal_end)
            continue
        out[name] = invoke(args, env)
        expected = 1 if name == "close_early" else 0
        assert out[name].exit_code == expected, f"{name}: {out[name].output}{out[name].exception!r}"
    return {"id": task_id, "out": out, "client": client, "key_file": key_file}


def address_of(key: str) -> str:
    return Account.from_key(key).address


@pytest.mark.slow
@pytest.mark.zk
def test_deploy_records_the_contract_in_the_deployment_map(fl, task):
    from zkpot.chain import load_deployment

    deployment = load_deployment(fl["settings"])
    assert deployment.contracts["FederatedTask"] == task["client"].address
    assert task["client"].address in task["out"]["deploy"].output


@pytest.mark.slow
@pytest.mark.zk
def test_honest_participant_is_accepted_and_paid_for_its_improvement(fl, task):
    client, out = task["client"], task["out"]
    (update,) = client.accepted_updates(task["id"], 0)
    participant = address_of(fl["node_key"])
    assert update.participant == participant
    assert update.correct_count >= 13  # θ = 0.4 of 2 shards × 16
    baseline = client.baseline_count(task["id"], 0)  # the initial model's certified count
    assert f"accepted: proven {update.correct_count} ≥ θ 13, over the global model's {baseline}: paid " \
           f"{update.reward} wei, update {update.cid}" in out["participate"].output
    assert update.reward == REWARD * (update.correct_count - baseline) // (32 - baseline)
    assert client.credit_of(participant) == update.reward


@pytest.mark.slow
@pytest.mark.zk
def test_close_aggregates_the_update_and_completes_the_task(fl, task):
    client, out = task["client"], task["out"]
    participant = address_of(fl["node_key"])
    assert re.search(rf"{participant} proven \d+: aggregated", out["close"].output)
    commitment, cid = client.global_model(task["id"], 1)
    assert f"round 0 closed: model {cid}" in out["close"].output
    assert commitment != client.global_model(task["id"], 0)[0]
    view = client.get_task(task["id"])
    assert view.status is TaskStatus.COMPLETED
    # the unearned escrow goes back to the employer
    update = client.accepted_updates(task["id"], 0)[0]
    assert client.credit_of(address_of(fl["employer_key"])) == REWARD - update.reward


@pytest.mark.slow
@pytest.mark.zk
def test_status_shows_the_accepted_update_and_its_reward(fl, task):
    update = task["client"].accepted_updates(task["id"], 0)[0]
    output = task["out"]["status"].output
    assert f"task {task['id']}: COMPLETED, round 1/1, θ 13/32" in output
    row = next(line for line in output.splitlines() if update.participant in line)
    assert str(update.correct_count) in row.split()
    assert str(update.reward) in row.split()
    assert update.cid in row


@pytest.mark.slow
@pytest.mark.zk
def test_status_says_which_phase_the_round_is_in(task):
    out = task["out"]
    assert re.search(r"round 0: commit phase, \d+ s left", out["status_commit"].output)
    assert re.search(r"round 0: reveal phase, \d+ s left", out["status_reveal"].output)
    assert "round 0: reveal phase over since chain time" in out["status_over"].output
    assert "the employer may close it" in out["status_over"].output
    assert "awaiting their reveal in round 0: 0" in out["status_reveal"].output  # revealed at once


@pytest.mark.slow
@pytest.mark.zk
def test_participate_commits_then_waits_for_the_reveal_phase(task):
    output = task["out"]["participate"].output
    assert re.search(r"waiting \d+ s \(chain time \d+\) for the round's reveal phase", output)
    assert output.index("waiting") < output.index("accepted: proven")


@pytest.mark.slow
@pytest.mark.zk
def test_close_before_the_reveal_phase_ends_is_refused_with_the_time_left(task):
    result = task["out"]["close_early"]
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    left = int(re.search(r"round 0 is not over: its reveal phase ends in (\d+) s", result.output).group(1))
    assert 0 < left <= REVEAL_S
    assert "participants may still reveal until then" in result.output
    assert "closed" not in result.output  # nothing was published


@pytest.mark.slow
@pytest.mark.zk
def test_joining_a_round_after_its_commit_phase_does_nothing(fl, deployed):
    """A second participant that turns up in the reveal phase is told to wait for the next round."""
    env, key_file = fl["env"], deployed["key_file"]
    created = invoke(["fl", "create", "--key-file", str(key_file), "--preset", TINY, "--rounds", "2",
                      "--reward-wei", "1", "--commit-window", "60", "--reveal-window", str(REVEAL_S)], env)
    assert created.exit_code == 0, created.output
    task_id = int(re.search(r"task (\d+) created", created.output).group(1))
    client = cli_fl._task_client(fl["settings"], employer=None)
    DevChainClock(client.client).wait_until(client.round_phases(task_id).commit_end)
    late = {**env, "ZKPOT_NODE_KEY": dev_private_keys(8)[7]}
    result = invoke(["fl", "participate", str(task_id), "--data", str(fl["private"])], late)
    assert result.exit_code == 0, result.output
    assert re.search(r"nothing to do: round 0 is in its reveal phase \(\d+ s left\): too late to commit; "
                     r"join round 1", result.output)


@pytest.mark.slow
@pytest.mark.zk
def test_participating_again_in_a_completed_task_does_nothing(fl, task):
    result = invoke(["fl", "participate", str(task["id"]), "--data", str(fl["private"])], fl["env"])
    assert result.exit_code == 0, result.output
    assert "nothing to do" in result.output


@pytest.mark.slow
@pytest.mark.zk
def test_withdraw_pays_out_the_participants_credit(fl, task):
    client = task["client"]
    participant = address_of(fl["node_key"])
    credit = client.credit_of(participant)
    result = invoke(["fl", "withdraw"], fl["env"])
    assert result.exit_code == 0, result.output
    assert f"withdrew {credit} wei" in result.output
    assert client.credit_of(participant) == 0
    again = invoke(["fl", "withdraw"], fl["env"])
    assert again.exit_code == 1
    assert "nothing to withdraw" in again.output


# -- bad input: a clear message and a non-zero exit, no traceback -------------------------------

@pytest.mark.slow
@pytest.mark.zk
def test_participate_with_a_missing_data_file(fl, deployed):
    missing = fl["root"] / "no-such.npz"
    result = invoke(["fl", "participate", "1", "--data", str(missing)], fl["env"])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "cannot read --data" in result.output and "no-such.npz" in result.output
    assert "No such file or directory" in result.output


@pytest.mark.slow
@pytest.mark.zk
@pytest.mark.parametrize("command", ["participate", "close", "status"])
def test_a_task_that_does_not_exist(fl, deployed, command):
    extra = {"participate": ["--data", str(fl["private"])], "close": ["--key-file", str(deployed["key_file"])],
             "status": []}[command]
    result = invoke(["fl", command, "9999", *extra], fl["env"])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "task 9999: no such task" in result.output


@pytest.mark.slow
@pytest.mark.zk
def test_participate_with_data_that_is_not_npz(fl, deployed):
    bad = fl["root"] / "bad.npz"
    bad.write_bytes(b"not an archive")
    result = invoke(["fl", "participate", "1", "--data", str(bad)], fl["env"])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "bad.npz" in result.output and "not a readable NPZ file" in result.output


def test_create_without_an_employer_key(tmp_path):
    env = {"ZKPOT_STATE_DIR": str(tmp_path), "ZKPOT_EMPLOYER_KEY": ""}
    result = invoke(["fl", "create", "--key-file", str(tmp_path / "k")], env)
    assert result.exit_code == 1
    assert "set ZKPOT_EMPLOYER_KEY" in result.output


def test_a_demo_stopped_by_sigterm_stops_the_anvil_it_started(tmp_path):
    # found by an attack: `zkpot fl demo` under timeout / docker stop left its Anvil running,
    # re-parented to init; SIGTERM now unwinds the command like Ctrl-C
    import os
    import signal
    import subprocess
    import sys
    import time

    from zkpot.config import PROJECT_ROOT

    env = {k: v for k, v in os.environ.items() if not k.startswith("ZKPOT_")}
    env.update(ZKPOT_STATE_DIR=str(tmp_path / "state"), PYTHONPATH=str(PROJECT_ROOT))
    cli = subprocess.Popen([sys.executable, "-m", "cli", "fl", "demo", "--participants", "2", "--rounds", "1"],
                           cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def anvils() -> list[int]:
        found = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                if os.readlink(f"/proc/{pid}/fd/1").startswith(str(tmp_path / "state" / "logs" / "anvil-")):
                    found.append(int(pid))
            except OSError:
                pass
        return found

    try:
        deadline = time.monotonic() + 120
        while not anvils() and time.monotonic() < deadline and cli.poll() is None:
            time.sleep(0.2)
        assert anvils(), "the demo never started its Anvil"
        cli.send_signal(signal.SIGTERM)
        assert cli.wait(60) == 128 + signal.SIGTERM
        deadline = time.monotonic() + 10
        while anvils() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert anvils() == []
    finally:
        if cli.poll() is None:
            cli.kill()
        for pid in anvils():
            os.kill(pid, signal.SIGKILL)
