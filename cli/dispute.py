"""``zkpot dispute …``: stage disputes. ``deploy`` adds the game to the deployment map;
``status`` shows every claim and game, or one claim's games move by move.

A door over ``zkpot.chain.dispute`` (docs/disputes.md); ``deploy`` signs with the node key.
Everything shown from the chain is printed as plain text.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from cli.console import console, fail
from zkpot.config import get_settings

app = typer.Typer(help="Stage disputes: claims, challenges and their bisection games.", no_args_is_help=True)

CONTRACT = "StageDispute"


def _dispute(signing: bool):
    from zkpot.chain import ChainClient, load_deployment
    from zkpot.chain.dispute import Dispute

    settings = get_settings()
    client = ChainClient.from_settings(settings, read_only=not signing)
    try:
        return Dispute(client, load_deployment(settings).contracts[CONTRACT])
    except (FileNotFoundError, KeyError):
        fail("no StageDispute in the deployment map; run `zkpot dispute deploy`")
    except ValueError as exc:
        fail(str(exc))


def _short(b: bytes) -> str:
    return "0x" + bytes(b).hex()[:10] + "…"


@app.command("deploy")
def deploy(min_bond: Annotated[float, typer.Option(help="the smallest bond of a claim, in ETH")] = 0.01,
           challenge_window: Annotated[int, typer.Option(help="seconds a claim can be challenged")] = 86_400,
           response_window: Annotated[int, typer.Option(help="seconds each move may take")] = 3_600,
           beneficiary: Annotated[str | None, typer.Option(help="receives half of every lost bond "
                                                                "(default: none, the half is burnt)")] = None) -> None:
    """Deploy StageDispute and its rules; add them to the deployment map (node key signs)."""
    from web3 import Web3

    from zkpot.chain import ChainClient, Deployment
    from zkpot.chain.dispute import deploy as deploy_game

    if min_bond <= 0 or challenge_window <= 0 or response_window <= 0:
        fail("the bond and both windows must be positive")
    settings = get_settings()
    if settings.node_key is None:
        fail("set ZKPOT_NODE_KEY (the account that deploys)")
    if beneficiary is not None and not Web3.is_address(beneficiary):
        fail(f"--beneficiary: not an address: {beneficiary!r}")
    client = ChainClient.from_settings(settings)
    dep = deploy_game(client, min_bond=int(min_bond * 10**18), challenge_window=challenge_window,
                      response_window=response_window,
                      **({"beneficiary": Web3.to_checksum_address(beneficiary)} if beneficiary else {}))
    deployment = Deployment(chain_id=client.chain_id, block=client.block_number(),
                            contracts={CONTRACT: dep.game, "MlpStepRules": dep.rules})
    deployment.save(settings.deployment_path)
    console.print(f"{CONTRACT} at {dep.game}, MlpStepRules at {dep.rules} ({settings.deployment_path})")


@app.command("status")
def status(claim: Annotated[int | None, typer.Argument(help="one claim: its games in detail")] = None) -> None:
    """Every claim and game, or one claim's games: phase, whose move, deadline, the disputed place."""
    d = _dispute(signing=False)
    count = d.client.call(d.contract.functions.claimCount())
    if claim is not None and not 1 <= claim <= count:
        fail(f"no claim {claim} (claims 1..{count})")
    now = d.client.chain_time()
    claims = Table("claim", "defender", "state", "bond (wei)", "window", "open games", "end root")
    for cid in ([claim] if claim else range(1, count + 1)):
        c = d.claim(cid)
        left = c["challengeEnds"] - now
        claims.add_row(str(cid), c["defender"], c["state"], str(c["bond"]),
                       f"{left} s left" if left > 0 else "closed", str(c["openGames"]), _short(c["endRoot"]))
    console.print(claims)
    games = Table("game", "claim", "challenger", "phase", "to move", "deadline", "where", "moves d/c", "winner")
    for gid in range(1, d.client.call(d.contract.functions.gameCount()) + 1):
        g = d.game(gid)
        if claim is not None and g["claim"] != claim:
            continue
        done = g["phase"] == "Done"
        mover = "-" if done else ("challenger" if g["phase"] == "Resolve" or not g["defenderToMove"] else "defender")
        games.add_row(str(gid), str(g["claim"]), g["challenger"], g["phase"], mover,
                      "-" if done else f"{g['deadline'] - now} s", _where(g), f"{g['defenderMoves']}/"
                      f"{g['challengerMoves']}", g["winner"] if done else "-")
    console.print(games)


def _where(g: dict) -> str:
    """The disputed place, as far as the game has narrowed it."""
    if g["phase"] == "Batches":
        return f"batches {g['lo']}..{g['hi']}"
    if g["phase"] == "Operations":
        return f"batch {g['lo']}"
    if g["phase"] == "Descend":
        return f"batch {g['lo']}, op {g['op']} ({g['n']} elements), height {g['height']}"
    if g["phase"] == "Element":
        return f"batch {g['lo']}, op {g['op']}, leaf {g['index']}"
    if g["phase"] in ("Reduce", "Resolve", "Done") and g["n"]:
        place = f"batch {g['lo']}, op {g['op']}, element {g['element']}"
        return place + (f", partial sums {g['accLo']}..{g['accHi']}" if g["accHi"] else "")
    return f"batch {g['lo']}"
