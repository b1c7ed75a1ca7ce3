"""Stage disputes on a chain: deploy the game, claim, challenge, and play one side's moves.

``StageDispute`` (contracts/dispute/StageDispute.sol) holds claims and games; a ``Player``
answers for one account from its own computation of the stage (``zkpot.pot.game.Side``):
``Defender`` for the claimer, ``Challenger`` for the challenger. ``Player.move`` makes this
account's next move when it is its turn and says which, so a node polls it, and a test drives
both sides in one loop (``play``). docs/disputes.md has the rules.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from web3.contract import Contract

from zkpot.chain.client import ChainClient, Receipt
from zkpot.pot import merkle
from zkpot.pot.game import Side

PHASES = ("None", "Batches", "Operations", "Descend", "Element", "Reduce", "Resolve", "Done")
CLAIM_STATES = ("None", "Open", "Overturned", "Final")


@dataclass(frozen=True)
class DisputeDeployment:
    game: str
    rules: str


BURN = "0x000000000000000000000000000000000000dEaD"      # nobody's: a credit there is burnt


def deploy(client: ChainClient, *, min_bond: int, challenge_window: int, response_window: int,
           beneficiary: str = BURN) -> DisputeDeployment:
    """Deploy the index rules and the game; half of every lost bond goes to ``beneficiary``,
    burnt by default. It must be no party to any claim: a beneficiary who fabricates a claim
    and loses it to its own second identity would get the lost half back."""
    rules = client.deploy("MlpStepRules")
    game = client.deploy("StageDispute", rules.address, beneficiary, min_bond, challenge_window, response_window)
    return DisputeDeployment(game.address, rules.address)


def _named(contract: Contract, fn: str, value: tuple) -> dict[str, Any]:
    abi = next(item for item in contract.abi if item.get("name") == fn)
    names = [c["name"] for c in abi["outputs"][0]["components"]]
    return dict(zip(names, value, strict=True))


class Dispute:
    """The game contract seen from one account."""

    def __init__(self, client: ChainClient, address: str):
        self.client = client
        self.contract = client.contract("StageDispute", address)

    def game(self, gid: int) -> dict[str, Any]:
        g = _named(self.contract, "gameOf", self.client.call(self.contract.functions.gameOf(gid)))
        g["phase"] = PHASES[g["phase"]]
        return g

    def claim(self, cid: int) -> dict[str, Any]:
        c = _named(self.contract, "claimOf", self.client.call(self.contract.functions.claimOf(cid)))
        c["state"] = CLAIM_STATES[c["state"]]
        return c

    def credit(self, address: str) -> int:
        return self.client.call(self.contract.functions.credit(address))

    def send(self, name: str, *args: Any, value: int = 0) -> Receipt:
        return self.client.transact(getattr(self.contract.functions, name)(*args), value=value)

    def events(self, name: str, gid: int) -> list[dict[str, Any]]:
        logs = getattr(self.contract.events, name).get_logs(from_block=0, argument_filters={"game": gid})
        return [dict(log["args"]) for log in logs]


class Player(ABC):
    """One side's moves, from its own computation of the stage."""

    defender: bool

    def __init__(self, dispute: Dispute, side: Side):
        self.dispute, self.side = dispute, side
        self.program = side.program.abi()
        self.gas: list[tuple[str, int]] = []          # (move, gas used) of every move made

    def my_turn(self, g: dict[str, Any]) -> bool:
        if g["phase"] in ("None", "Done"):
            return False
        if g["phase"] == "Resolve":
            return not self.defender
        return g["defenderToMove"] == self.defender

    def move(self, gid: int) -> str | None:
        """Make this side's next move in game ``gid`` if it is its turn; the move's name."""
        g = self.dispute.game(gid)
        if not self.my_turn(g):
            return None
        name, args = self.next_move(gid, g)
        self.gas.append((name, self.dispute.send(name, gid, *args).gas_used))
        return name

    @abstractmethod
    def next_move(self, gid: int, g: dict[str, Any]) -> tuple[str, tuple]:
        """The contract function and its arguments (after the game id) of this side's move."""


class Defender(Player):
    """The claimer: posts its roots, opens its trees and partial sums."""

    defender = True

    def claim(self, bond: int) -> int:
        s = self.side
        receipt = self.dispute.send("claim", self.program, s.data.root, s.labels.root, s.state_root(0), s.end_root(),
                                    value=bond)
        return receipt.event("Claimed")["claim"]

    def next_move(self, gid: int, g: dict[str, Any]) -> tuple[str, tuple]:
        s, j, phase = self.side, g["lo"], g["phase"]
        if phase == "Batches":
            return "postState", (s.state_root((g["lo"] + g["hi"]) // 2),)
        if phase == "Operations":
            return "postOperations", (self.program, s.op_roots(j))
        if phase == "Descend":
            if g["height"] == 0:
                return "revealLeaf", (s.leaf(j, g["op"], g["index"]),)
            return "revealNode", s.children(j, g["op"], g["height"], g["index"])
        if phase == "Reduce":
            return "postPartialSum", (s.partial(j, g["op"], g["element"], (g["accLo"] + g["accHi"]) // 2),)
        raise AssertionError(f"no defender move in phase {phase}")


class Challenger(Player):
    """Disputes a claim it computed differently: follows, at every level, the first place
    where the defender's answer differs from its own."""

    defender = False

    def challenge(self, cid: int) -> int:
        bond = self.dispute.claim(cid)["bond"]
        receipt = self.dispute.send("challenge", cid, self.program, self.side.end_root(), value=bond)
        return receipt.event("Challenged")["game"]

    def roots(self, gid: int) -> list[bytes]:
        return list(self.dispute.events("OperationsPosted", gid)[-1]["roots"])

    def next_move(self, gid: int, g: dict[str, Any]) -> tuple[str, tuple]:
        s, j, phase = self.side, g["lo"], g["phase"]
        if phase == "Batches":
            return "answerState", (bytes(g["mid"]) == s.state_root((g["lo"] + g["hi"]) // 2),)
        if phase == "Operations":
            theirs = self.roots(gid)
            mine = s.op_roots(j)
            return "disputeOperation", (self.program, theirs, next(t for t, (a, b) in enumerate(zip(theirs, mine))
                                                                    if bytes(a) != b))
        if phase == "Descend":
            left, _ = s.children(j, g["op"], g["height"], g["index"])
            return "pickChild", (0 if bytes(g["left"]) != left else 1,)
        if phase == "Element":
            chunk = bytes(self.dispute.events("LeafRevealed", gid)[-1]["chunk"])
            theirs, mine = merkle.unpack(chunk), merkle.unpack(s.leaf(j, g["op"], g["index"]))
            return "pickElement", (self.program, next(i for i, (a, b) in enumerate(zip(theirs, mine)) if a != b), chunk)
        if phase == "Reduce":
            mid = int.from_bytes(bytes(g["mid"]), "big", signed=True)
            return "answerPartialSum", (mid == s.partial(j, g["op"], g["element"], (g["accLo"] + g["accHi"]) // 2),)
        # Resolve
        ops = s.operands(j, g["op"], g["element"], g["accLo"])
        return "resolve", (self.program, self.roots(gid), ops)


def play(dispute: Dispute, gid: int, defender: Player, challenger: Player, *, max_moves: int = 500) -> list[str]:
    """Alternate the two sides until the game ends or neither moves; the moves made."""
    moves: list[str] = []
    for _ in range(max_moves):
        made = [m for m in (defender.move(gid), challenger.move(gid)) if m]
        moves += made
        if not made:
            return moves
    raise AssertionError(f"game {gid} did not end in {max_moves} moves")
