"""A node's part in stage disputes: challenge claims it computed differently, defend its own.

The node keeps the stages it computed (``watch``: a ``zkpot.pot.game.Side`` each) and calls
``DisputeWatcher.poll`` on every tick. One poll

1. reads the claims made since the last poll; a claim about a stage the node computed (the same
   program, data, labels and start state) whose end root is not the node's own is challenged,
   with the claim's bond, when ``auto_challenge`` is on (else it is reported, once);
2. in every game of this node (as defender of its own claims or as challenger) makes its next
   move when it is its turn, calls ``timeout`` when the other side has missed its deadline, and
   ``abandon``s a game against a claim that another game overturned;
3. settles its own claims whose window has passed with no open game, and withdraws what the
   game owes it;

and returns what it did, one line each, for the node's log. Each step is one transaction the
contract checks, so a crash between polls loses nothing: the next poll reads the game again.
docs/disputes.md has the rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from eth_abi import encode
from eth_utils import keccak

from web3.exceptions import Web3Exception

from zkpot.chain.dispute import Challenger, Defender, Dispute, Player
from zkpot.chain.errors import ChainError, ContractError
from zkpot.pot.game import Program, Side


def program_hash(p: Program) -> bytes:
    """``MlpProgram.hash``: keccak256(abi.encode(dims, batchSize, samples, lrQ, muQ))."""
    return keccak(encode(["uint32[]", "uint32", "uint32", "int256", "int256"], list(p.abi())))


def stage_key(side: Side) -> tuple[bytes, bytes, bytes, bytes]:
    """What names a stage in a claim: its program, data, labels and start state."""
    return program_hash(side.program), side.data.root, side.labels.root, side.state_root(0)


@dataclass
class DisputeWatcher:
    dispute: Dispute
    auto_challenge: bool = True
    sides: dict[tuple, Side] = field(default_factory=dict)
    players: dict[int, Player] = field(default_factory=dict)      # game -> this node's side in it
    claims: dict[int, Side] = field(default_factory=dict)         # this node's own claims
    reported: set[int] = field(default_factory=set)
    next_block: int = 0

    @property
    def me(self) -> str:
        return self.dispute.client.address

    def watch(self, side: Side) -> None:
        """A stage this node computed: claims about it are checked against it."""
        self.sides[stage_key(side)] = side

    def claim(self, side: Side, bond: int) -> int:
        """Claim a stage this node computed (and watch it)."""
        self.watch(side)
        cid = Defender(self.dispute, side).claim(bond)
        self.claims[cid] = side
        return cid

    def poll(self) -> list[str]:
        done: list[str] = []
        head = self.dispute.client.block_number()
        if head >= self.next_block:
            done += self._new_claims(self.next_block, head)
            done += self._new_games(self.next_block, head)
            self.next_block = head + 1
        for gid, player in list(self.players.items()):
            done += self._play(gid, player)
        done += self._settle()
        return done

    # ---- reading the chain

    def _logs(self, name: str, first: int, last: int) -> list[dict]:
        event = getattr(self.dispute.contract.events, name)
        return [dict(log["args"]) for log in event.get_logs(from_block=first, to_block=last)]

    def _new_claims(self, first: int, last: int) -> list[str]:
        done = []
        for ev in self._logs("Claimed", first, last):
            cid = ev["claim"]
            c = self.dispute.claim(cid)
            if c["defender"] == self.me or c["state"] != "Open":
                continue
            side = self.sides.get((bytes(c["program"]), bytes(c["dataRoot"]), bytes(c["labelRoot"]),
                                   bytes(c["startRoot"])))
            if side is None or bytes(c["endRoot"]) == side.end_root():
                continue
            if self.dispute.client.chain_time() >= c["challengeEnds"]:
                continue                                   # too late to challenge: nothing to do
            why = ("auto_challenge is off" if not self.auto_challenge else
                   "its bond is more than this node holds"
                   if self.dispute.client.balance(self.me) <= c["bond"] else None)
            if why is None:
                player = Challenger(self.dispute, side)
                try:
                    gid = player.challenge(cid)
                except (ContractError, ChainError, Web3Exception) as exc:
                    why = f"the challenge failed: {exc}"
                else:
                    self.players[gid] = player
                    done.append(f"challenged claim {cid}: game {gid}")
                    continue
            if cid not in self.reported:                   # said once; other claims go on
                self.reported.add(cid)
                done.append(f"claim {cid} ends in a state this node computed differently ({why})")
        return done

    def _new_games(self, first: int, last: int) -> list[str]:
        done = []
        for ev in self._logs("Challenged", first, last):
            gid, cid = ev["game"], ev["claim"]
            if gid in self.players or cid not in self.claims:
                continue
            self.players[gid] = Defender(self.dispute, self.claims[cid])
            done.append(f"claim {cid} challenged by {ev['challenger']}: defending in game {gid}")
        return done

    # ---- playing

    def _play(self, gid: int, player: Player) -> list[str]:
        g = self.dispute.game(gid)
        if g["phase"] == "Done":
            del self.players[gid]
            won = g["winner"] == self.me
            return [f"game {gid} over: {'won' if won else 'lost'}"]
        if self.dispute.claim(g["claim"])["state"] == "Overturned" and not player.defender:
            return self._send(gid, "abandon", f"game {gid}: claim {g['claim']} overturned by another game")
        if player.my_turn(g):
            try:
                return [f"game {gid}: {player.move(gid)}"]
            except (ContractError, ChainError, Web3Exception) as exc:
                return [f"game {gid}: move refused: {exc}"]
        if self.dispute.client.chain_time() > g["deadline"]:
            return self._send(gid, "timeout", f"game {gid}: the other side missed its deadline")
        return []

    def _send(self, gid: int, name: str, line: str) -> list[str]:
        try:
            self.dispute.send(name, gid)
        except (ContractError, ChainError, Web3Exception) as exc:
            return [f"game {gid}: {name} refused: {exc}"]
        return [line]

    def _settle(self) -> list[str]:
        done = []
        now = self.dispute.client.chain_time()
        for cid in list(self.claims):
            c = self.dispute.claim(cid)
            if c["state"] == "Open" and now >= c["challengeEnds"] and c["openGames"] == 0:
                try:
                    self.dispute.send("settle", cid)
                except (ContractError, ChainError, Web3Exception) as exc:
                    done.append(f"claim {cid}: settle refused: {exc}")
                    continue
                done.append(f"claim {cid} final: bond returned")
                del self.claims[cid]
            elif c["state"] != "Open":
                done.append(f"claim {cid} {c['state'].lower()}")
                del self.claims[cid]
        owed = self.dispute.credit(self.me)
        if owed:
            self.dispute.send("withdraw")
            done.append(f"withdrew {owed} wei")
        return done
