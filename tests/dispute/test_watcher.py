"""The node's dispute watcher on Anvil: it challenges a claim it computed differently and wins,
defends its own claim against a liar, claims the win when the other side stops, and leaves a
claim alone when automatic challenges are off."""

from __future__ import annotations

import pytest

from tests.dispute.conftest import BOND, RESPONSE, WINDOW, advance, dispute, mlp, side_for
from zkpot.node.disputes import DisputeWatcher, program_hash
from zkpot.pot.game import Fabricated


@pytest.fixture(scope="module")
def honest():
    return side_for(mlp(0.9))


def run(*watchers: DisputeWatcher, rounds: int = 200) -> list[str]:
    log: list[str] = []
    for _ in range(rounds):
        made = [line for w in watchers for line in w.poll()]
        log += made
        if not made:
            return log
    raise AssertionError("the watchers did not settle")


def test_program_hash_is_the_contracts(accounts, deployment, honest):
    cid = DisputeWatcher(dispute(accounts, deployment, 1)).claim(honest, BOND)
    assert bytes(dispute(accounts, deployment, 0).claim(cid)["program"]) == program_hash(honest.program)


def test_an_honest_node_challenges_a_fabricated_claim_and_wins(accounts, deployment, honest):
    liar = DisputeWatcher(dispute(accounts, deployment, 1))
    node = DisputeWatcher(dispute(accounts, deployment, 2))
    node.watch(honest)
    balance = accounts[2].balance(accounts[2].address)
    cid = liar.claim(Fabricated(honest, 3, honest.program.index("LossSum"), 4, delta=9), BOND)
    log = run(liar, node)
    assert any(line.startswith(f"challenged claim {cid}") for line in log), log
    assert dispute(accounts, deployment, 0).claim(cid)["state"] == "Overturned"
    assert any("won" in line for line in log if line.startswith("game")), log
    assert dispute(accounts, deployment, 0).credit(accounts[2].address) == 0          # withdrawn
    assert accounts[2].balance(accounts[2].address) > balance                        # a bond gained, less gas


def test_a_node_defends_its_claim_against_a_liar(accounts, deployment, honest):
    node = DisputeWatcher(dispute(accounts, deployment, 1))
    liar = DisputeWatcher(dispute(accounts, deployment, 2))
    liar.watch(Fabricated(honest, 0, honest.program.index("FwdRelu", 1), 6, delta=-4))
    cid = node.claim(honest, BOND)
    run(node, liar)
    assert dispute(accounts, deployment, 0).claim(cid)["state"] == "Open"
    advance(accounts[0], WINDOW + 1)
    log = run(node)
    assert f"claim {cid} final: bond returned" in log
    assert dispute(accounts, deployment, 0).claim(cid)["state"] == "Final"


def test_a_node_claims_the_win_when_the_defender_stops(accounts, deployment, honest):
    liar = DisputeWatcher(dispute(accounts, deployment, 1))
    node = DisputeWatcher(dispute(accounts, deployment, 2))
    node.watch(honest)
    cid = liar.claim(Fabricated(honest, 1, honest.program.index("State"), 3), BOND)
    for _ in range(4):                    # a few rounds, then the liar goes quiet
        liar.poll(), node.poll()
    assert node.poll() == []              # its move made; waiting for the defender
    advance(accounts[0], RESPONSE + 1)
    log = run(node)
    assert any("missed its deadline" in line for line in log), log
    assert dispute(accounts, deployment, 0).claim(cid)["state"] == "Overturned"


def test_automatic_challenges_can_be_turned_off(accounts, deployment, honest):
    liar = DisputeWatcher(dispute(accounts, deployment, 1))
    node = DisputeWatcher(dispute(accounts, deployment, 3), auto_challenge=False)
    node.watch(honest)
    cid = liar.claim(Fabricated(honest, 2, 0, 0), BOND)
    log = run(liar, node)
    assert log == [f"claim {cid} ends in a state this node computed differently (auto_challenge is off)"]
    assert dispute(accounts, deployment, 0).claim(cid)["openGames"] == 0


def test_the_cli_deploys_the_game_and_shows_claims_and_games(accounts, tmp_path, honest):
    import os
    import subprocess
    import sys

    from zkpot.chain.dispute import Dispute
    from zkpot.config import PROJECT_ROOT
    from zkpot.devnet import dev_private_keys

    rpc = accounts[0].rpc_url
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZKPOT_")}
    env.update(PYTHONPATH=str(PROJECT_ROOT), COLUMNS="250", ZKPOT_STATE_DIR=str(tmp_path / "state"),
               ZKPOT_RPC_URL=rpc, ZKPOT_NODE_KEY=dev_private_keys(4)[3])

    def zkpot(*args):
        return subprocess.run([sys.executable, "-m", "cli", "dispute", *args], env=env, text=True,
                              capture_output=True, timeout=120, cwd=PROJECT_ROOT)

    missing = zkpot("status")
    assert missing.returncode == 1 and "run `zkpot dispute deploy`" in missing.stdout
    done = zkpot("deploy", "--min-bond", "0.01", "--challenge-window", "3600", "--response-window", "600")
    assert done.returncode == 0, done.stdout + done.stderr
    address = done.stdout.split("StageDispute at ")[1].split(",")[0]
    liar = DisputeWatcher(Dispute(accounts[1], address))
    node = DisputeWatcher(Dispute(accounts[2], address))
    node.watch(honest)
    cid = liar.claim(Fabricated(honest, 4, honest.program.index("Param", 0), 9), BOND)
    for _ in range(3):
        liar.poll(), node.poll()
    shown = zkpot("status")
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert f"{accounts[1].address}" in shown.stdout and "Open" in shown.stdout
    assert "Batches" in shown.stdout and accounts[2].address in shown.stdout
    run(liar, node)
    one = zkpot("status", str(cid))
    assert "Overturned" in one.stdout and "Done" in one.stdout and accounts[2].address in one.stdout
    assert f"batch 4, op {honest.program.index('Param', 0)}, element 9" in one.stdout
    bad = zkpot("status", "99")
    assert bad.returncode == 1 and "no claim 99 (claims 1..1)" in bad.stdout


def test_a_claim_the_node_cannot_challenge_does_not_stop_it(accounts, deployment, honest):
    """An attacker makes a fabricated claim with a bond beyond the node's means, and leaves an
    old one unsettled past its window: the node reports the first, skips the second, and still
    challenges and wins the claim it can afford."""
    from eth_account import Account

    from zkpot.chain import ChainClient
    poor = Account.create()
    accounts[0].send_value(poor.address, 10**18)                       # 1 ETH
    node_client = ChainClient(accounts[0].rpc_url, poor.key.to_0x_hex())
    liar = DisputeWatcher(dispute(accounts, deployment, 1))
    stale = liar.claim(Fabricated(honest, 1, 0, 1), BOND)
    advance(accounts[0], WINDOW + 1)
    rich = liar.claim(Fabricated(honest, 2, 0, 2), 2 * 10**18)
    cheap = liar.claim(Fabricated(honest, 3, 0, 3), BOND)
    from zkpot.chain.dispute import Dispute
    node = DisputeWatcher(Dispute(node_client, deployment.game))
    node.watch(honest)
    log = run(liar, node)
    assert f"claim {rich} ends in a state this node computed differently (its bond is more than this node holds)" in log
    assert not any(f"claim {stale} " in line for line in log if "computed differently" in line)
    assert dispute(accounts, deployment, 0).claim(cheap)["state"] == "Overturned"
