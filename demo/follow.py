"""Progress from the chain: new events of the deployment as readable lines, and waiting on them."""

from __future__ import annotations

import time
from typing import Callable

from zkpot.chain import ChainClient, ChainEvent, fetch_events


class DemoTimeout(RuntimeError):
    """Something the demo waits for did not happen in time (the message says what)."""


def short(value: bytes | str, n: int = 10) -> str:
    text = value if isinstance(value, str) else "0x" + bytes(value).hex()
    return text[:n] + "…"


class EventFollower:
    """Reads the deployment's events block by block and keeps them all (the report uses them)."""

    def __init__(self, client: ChainClient, deployment, names: dict[str, str] | None = None,
                 from_block: int | None = None):
        self.client = client
        self.deployment = deployment
        self.names = {a.lower(): n for a, n in (names or {}).items()}
        self.next_block = deployment.block if from_block is None else from_block
        self.events: list[ChainEvent] = []

    def who(self, address: str) -> str:
        return self.names.get(address.lower(), short(address, 8))

    def poll(self) -> list[ChainEvent]:
        head = self.client.block_number()
        if head < self.next_block:
            return []
        new = fetch_events(self.client, self.deployment, from_block=self.next_block, to_block=head)
        self.next_block = head + 1
        self.events += new
        return new

    def describe(self, ev: ChainEvent) -> str | None:
        """One line for the events a user follows (None for the ones that add nothing)."""
        a = ev.args
        eth = lambda wei: f"{wei / 10**18:.4f}".rstrip("0").rstrip(".") + " ETH"  # noqa: E731
        match ev.name:
            case "NodeRegistered":
                return f"{self.who(a['node'])} registered with a stake of {eth(a['stake'])}"
            case "JobCreated":
                return (f"job {a['jobId']} created by {self.who(a['employer'])}: {a['stages']} stages, "
                        f"C={a['confirmations']}, {eth(a['reward'])} per confirmed declaration, "
                        f"bounty {eth(a['bounty'])}, manifest {a['manifestCid'][:16]}…")
            case "StageDeclared":
                return (f"stage {a['stage']}: {self.who(a['node'])} declared (attempt {a['attempt'] + 1}, "
                        f"commitment {short(a['commitment'])}: nothing to copy)")
            case "StageCommitClosed":
                return f"stage {a['stage']}: commit phase closed by count, nodes open their declarations"
            case "StageRevealed":
                rank = "late" if a["position"] == 255 else f"#{a['position']}"
                return (f"stage {a['stage']}: {self.who(a['node'])} opened ρ {short(a['rho'], 10)} weights "
                        f"{short(a['weightsHash'])} ({rank})")
            case "StageAttemptFailed":
                return f"stage {a['stage']}: attempt {a['attempt'] + 1} ended without agreement, retrying"
            case "StageFinalised":
                h_w = f", model commitment h_W {str(a['modelCommitment'])[:12]}…" if a["modelCommitment"] else ""
                return (f"stage {a['stage']} FINAL: ρ {short(a['rho'], 14)}, C agreeing openings "
                        f"(the C-th by {self.who(a['finaliser'])}){h_w}")
            case "DeclarationRewarded":
                return f"stage {a['stage']}: {self.who(a['node'])} credited {eth(a['amount'])}"
            case "DeclarationSlashed":
                return f"stage {a['stage']}: {self.who(a['node'])} SLASHED {eth(a['amount'])}"
            case "TestShardPublished":
                return f"job {a['jobId']}: test shard {a['shard']} posted on chain (hash {short(a['dataHash'])} as committed)"
            case "TestSetPublished":
                return f"job {a['jobId']}: the whole test set is on chain: nodes prove accuracy in zk"
            case "BountyPaid":
                return f"job {a['jobId']}: {self.who(a['node'])} credited a bounty share of {eth(a['amount'])}"
            case "AccuracyProofAccepted":
                return (f"shard {a['shard']}: accuracy proof from {self.who(a['submitter'])} verified "
                        f"on-chain: {a['correctCount']} correct")
            case "JobCompleted":
                return (f"job {a['jobId']} COMPLETED: {a['correctCount']} correct proven, bounty {eth(a['bounty'])} "
                        "owed to the last stage's paid nodes")
            case "JobFailed":
                return f"job {a['jobId']} FAILED: {a['correctCount']} correct < threshold {a['threshold']}"
            case "Withdrawn":
                return f"{self.who(a['account'])} withdrew {eth(a['amount'])}"
        return None

    def wait(self, done: Callable[[], bool], timeout: float, what: str,
             line: Callable[[str], None], status: Callable[[str], None] | None = None,
             every: float = 0.5, heartbeat: float = 60.0) -> None:
        """Print new events until ``done()``; ``DemoTimeout`` after ``timeout`` seconds.

        The status line counts the seconds; a line every ``heartbeat`` seconds without news
        says what is still awaited (so a log without a live status shows progress too).
        """
        started = last = time.monotonic()
        while True:
            for ev in self.poll():
                text = self.describe(ev)
                if text:
                    line(text)
                    last = time.monotonic()
            if done():
                return
            now = time.monotonic()
            if now - started > timeout:
                raise DemoTimeout(f"gave up after {timeout:.0f} s waiting for {what}")
            if now - last > heartbeat:
                line(f"… still waiting for {what} ({now - started:.0f} s so far)")
                last = now
            if status:
                status(f"waiting for {what} ({now - started:.0f} s)")
            time.sleep(every)
