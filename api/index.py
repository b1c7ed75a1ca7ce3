"""The read side: an in-memory index of jobs, stages, proofs, balances and nodes.

The chain owns state; this index is only a projection of the contracts' events, fed by the
chain client's ``fetch_events`` and rebuildable from block 0 at any time (``rebuild``). After
every batch of events it also keeps each touched job's ``getJob`` and ``attemptOf`` views, what
``zkpot.lifecycle`` needs to say the job's status, deadlines and allowed actions at any later
time without another chain read. A background poller follows new blocks and wakes the live
subscribers (SSE).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable

from hexbytes import HexBytes

from zkpot.config import Settings

log = logging.getLogger("zkpot.api.index")
POLL_INTERVAL_S = 0.5
FRESH_S = 30.0   # an index that has not reached the head for this long cannot say what is on chain
NODE_EVENTS = {"NodeRegistered", "StakeToppedUp", "ExitRequested", "NodeExited", "StakeSlashed"}


def _plain(v: Any) -> Any:
    """Event values as JSON-friendly values (bytes as 0x-hex, big ints kept as int)."""
    if isinstance(v, (bytes, bytearray, HexBytes)):
        return "0x" + bytes(v).hex()
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    return v


@dataclass
class IndexedEvent:
    seq: int
    name: str
    block: int
    tx: str
    log_index: int
    args: dict[str, Any]

    @property
    def job_id(self) -> int | None:
        v = self.args.get("jobId")
        return int(v) if v is not None else None

    @property
    def stage(self) -> int | None:
        v = self.args.get("stage")
        return int(v) if v is not None else None

    def public(self) -> dict[str, Any]:
        return {"seq": self.seq, "name": self.name, "block": self.block, "tx": self.tx,
                "log_index": self.log_index, "job_id": self.job_id, "stage": self.stage,
                "args": self.args}


def normalise(ev: Any, seq: int) -> IndexedEvent:
    """The chain client's ``ChainEvent`` (or a web3 log dict) as an index entry."""
    get = (lambda k, d=None: ev.get(k, d)) if isinstance(ev, dict) else (lambda k, d=None: getattr(ev, k, d))
    name = get("name") or get("event")
    args = get("args") or {}
    tx = get("tx_hash") or get("transactionHash") or b""
    block = get("block_number") if get("block_number") is not None else get("blockNumber", 0)
    log_index = get("log_index") if get("log_index") is not None else get("logIndex", 0)
    args = {k: _plain(v) for k, v in dict(args).items()}
    tx_hex = _plain(tx) if not isinstance(tx, str) else tx
    if isinstance(tx_hex, str) and tx_hex and not tx_hex.startswith("0x"):
        tx_hex = "0x" + tx_hex
    return IndexedEvent(seq, str(name), int(block or 0), tx_hex, int(log_index or 0), args)


@dataclass
class StageRecord:
    declarations: list[dict[str, Any]] = field(default_factory=list)   # StageDeclared, every attempt
    reveals: list[dict[str, Any]] = field(default_factory=list)        # StageRevealed
    finalised: dict[str, Any] | None = None
    failed_attempts: list[dict[str, Any]] = field(default_factory=list)
    slashed: list[dict[str, Any]] = field(default_factory=list)    # DeclarationSlashed
    released: list[dict[str, Any]] = field(default_factory=list)   # DeclarationReleased
    paid: list[dict[str, Any]] = field(default_factory=list)       # DeclarationRewarded


@dataclass
class JobRecord:
    job_id: int
    created: dict[str, Any]
    block: int
    tx: str
    stages: dict[int, StageRecord] = field(default_factory=lambda: defaultdict(StageRecord))
    events: list[IndexedEvent] = field(default_factory=list)
    paid: int = 0
    test_set: dict[str, Any] | None = None
    proofs: list[dict[str, Any]] = field(default_factory=list)
    test_shards: dict[int, dict[str, Any]] = field(default_factory=dict)   # TestShardPublished
    completed: dict[str, Any] | None = None
    failed: dict[str, Any] | None = None
    forfeited: dict[str, Any] | None = None
    reclaimed: dict[str, Any] | None = None
    bounty_paid: int = 0
    view: Any = None      # zkpot.chain.JobView after the job's latest event
    attempt: Any = None   # zkpot.chain.AttemptView after the job's latest event


class ChainIndex:
    """Projection of contract events; thread-safe reads, one writer (the poller)."""

    def __init__(self, settings: Settings, source: Callable[[int, int], list] | None = None,
                 head: Callable[[], int] | None = None, views: Callable[[int], tuple] | None = None):
        self.settings = settings
        self._source = source
        self._head = head
        self._views = views
        self._chain_time: Callable[[], int] | None = None
        self.time_offset = 0.0   # chain time - wall time, as of the last poll
        self._lock = threading.RLock()
        self._task: asyncio.Task | None = None
        self._wakers: set[asyncio.Event] = set()
        self.closing = False
        self.error: str | None = None
        self.escrow_address: str | None = None   # the escrow whose events this index reads
        self._reset()

    # ---- state -------------------------------------------------------------------------
    def _reset(self) -> None:
        self.next_block = 0
        self.read_at: float | None = None      # wall time the index last read up to the head
        self.events: list[IndexedEvent] = []
        self.jobs: dict[int, JobRecord] = {}
        self.credited: dict[str, int] = defaultdict(int)
        self.withdrawn: dict[str, int] = defaultdict(int)
        self.nodes: dict[str, dict[str, Any]] = {}

    def _wire(self) -> None:
        """Bind to the chain client lazily: the API starts even when no chain is deployed."""
        if self._source is not None:
            return
        from zkpot.chain import ChainClient, JobEscrowClient, fetch_events, load_deployment

        deployment = load_deployment(self.settings)
        client = ChainClient.from_settings(self.settings)
        escrow = JobEscrowClient(client, deployment.escrow)
        self._source = lambda a, b: fetch_events(client, deployment, a, b)
        self._head = client.block_number
        self._views = lambda job_id: (escrow.get_job(job_id), escrow.attempt_of(job_id))
        self._chain_time = client.chain_time
        self._deployment_block = deployment.block
        self.escrow_address = escrow.address
        self.next_block = max(self.next_block, deployment.block)

    def rebuild(self) -> None:
        """Forget everything and replay the chain from the deployment block."""
        with self._lock:
            self._reset()
            self._deployment_block = getattr(self, "_deployment_block", 0)
            self.next_block = self._deployment_block
        self.poll_once()

    def poll_once(self) -> list[IndexedEvent]:
        """Read events up to the chain head and apply them; returns what was new."""
        self._wire()
        head = self._head()
        if head < self.next_block:
            self.read_at = time.time()
            return []
        raw = self._source(self.next_block, head)
        if self._chain_time is not None:
            self.time_offset = self._chain_time() - time.time()
        touched = {normalise(ev, 0).job_id for ev in raw} - {None}
        views = {j: self._views(j) for j in touched} if self._views else {}
        new = []
        with self._lock:
            for ev in raw:
                ie = normalise(ev, len(self.events))
                self._apply(ie)
                self.events.append(ie)
                new.append(ie)
            for job_id, (view, attempt) in views.items():
                if job_id in self.jobs:
                    self.jobs[job_id].view, self.jobs[job_id].attempt = view, attempt
            self.next_block = head + 1
            self.read_at = time.time()
        return new

    def has_job(self, manifest_hash: bytes, employer: str) -> bool | None:
        """Whether ``employer`` created a job with this manifest; None when the index cannot
        tell (it has not read the chain in the last ``FRESH_S`` seconds, or reads it with
        errors): nothing may be decided from a stale index (found by an attack)."""
        if self.error is not None or self.read_at is None or time.time() - self.read_at > FRESH_S:
            return None
        wanted, who = "0x" + bytes(manifest_hash).hex(), str(employer).lower()
        with self._lock:
            return any(str(j.created.get("manifestHash")).lower() == wanted
                       and str(j.created.get("employer")).lower() == who for j in self.jobs.values())

    def now(self) -> int:
        """Chain time now, from the offset to wall time seen at the last poll (a dev chain's
        clock may have been moved; a real chain's follows the wall clock)."""
        return int(time.time() + self.time_offset)

    # ---- projection ---------------------------------------------------------------------
    def _apply(self, ev: IndexedEvent) -> None:
        a, name = ev.args, ev.name
        where = {"block": ev.block, "tx": ev.tx}
        if name in NODE_EVENTS:
            self._apply_node(name, a, where)
            return
        if name == "Withdrawn":
            self.withdrawn[a["account"]] += int(a["amount"])
            return
        if ev.job_id is None:
            return
        if name == "JobCreated":
            self.jobs[ev.job_id] = JobRecord(ev.job_id, a, ev.block, ev.tx)
        job = self.jobs.get(ev.job_id)
        if job is None:  # an event of a contract this index does not follow
            return
        job.events.append(ev)
        stage = job.stages[ev.stage] if ev.stage is not None else None
        if name == "StageDeclared":
            stage.declarations.append({**a, **where})
            self._node(a["node"])["declarations"] += 1
        elif name == "StageRevealed":
            stage.reveals.append({**a, **where})
        elif name == "StageAttemptFailed":
            stage.failed_attempts.append({**a, **where})
        elif name == "StageFinalised":
            stage.finalised = {**a, **where}
        elif name == "DeclarationRewarded":
            stage.paid.append({**a, **where})
            self.credited[a["node"]] += int(a["amount"])
            job.paid += int(a["amount"])
            self._node(a["node"])["stages_paid"] += 1
        elif name == "DeclarationReleased":
            stage.released.append({**a, **where})
        elif name == "DeclarationSlashed":
            stage.slashed.append({**a, **where})
            self.credited[job.created["employer"]] += int(a["amount"])
        elif name == "TestShardPublished":
            job.test_shards[int(a["shard"])] = {**a, **where}
        elif name == "TestSetPublished":
            job.test_set = {**a, **where}
        elif name == "AccuracyProofAccepted":
            job.proofs.append({**a, **where})
        elif name == "JobCompleted":
            job.completed = {**a, **where}
        elif name == "JobFailed":
            job.failed = {**a, **where}
            self.credited[job.created["employer"]] += int(a["refunded"])
        elif name == "BountyForfeited":
            job.forfeited = {**a, **where}
        elif name == "BountyPaid":
            self.credited[a["node"]] += int(a["amount"])
            job.paid += int(a["amount"])
            job.bounty_paid += int(a["amount"])
        elif name == "JobReclaimed":
            job.reclaimed = {**a, **where}
            self.credited[a["employer"]] += int(a["amount"])

    def _node(self, address: str) -> dict[str, Any]:
        return self.nodes.setdefault(address, {"address": address, "stake": 0, "status": "unregistered",
                                               "declarations": 0, "stages_paid": 0})

    def _apply_node(self, name: str, a: dict[str, Any], where: dict[str, Any]) -> None:
        rec = self._node(a["node"])
        if "stake" in a:
            rec["stake"] = int(a["stake"])
        rec["status"] = {"NodeRegistered": "active", "StakeToppedUp": rec["status"],
                         "ExitRequested": "exiting", "NodeExited": "exited",
                         "StakeSlashed": rec["status"]}[name]
        if name == "NodeExited":
            rec["stake"] = 0

    # ---- live feed ----------------------------------------------------------------------
    def events_after(self, seq: int, limit: int) -> list[IndexedEvent]:
        """Up to ``limit`` events with a sequence number above ``seq``, oldest first."""
        with self._lock:
            return self.events[max(seq + 1, 0):max(seq + 1, 0) + limit]

    def subscribe(self) -> asyncio.Event:
        """An event set whenever new chain events are indexed (or the index closes)."""
        waker = asyncio.Event()
        self._wakers.add(waker)
        return waker

    def unsubscribe(self, waker: asyncio.Event) -> None:
        self._wakers.discard(waker)

    def _wake(self) -> None:
        for waker in list(self._wakers):
            waker.set()

    def close(self) -> None:
        """The server is stopping: live streams end (called in the event loop)."""
        self.closing = True
        self._wake()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._follow())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
            self._task = None

    async def _follow(self) -> None:
        while True:
            try:
                new = await asyncio.to_thread(self.poll_once)
                self.error = None
            except asyncio.CancelledError:
                raise
            except Exception as e:  # chain down or not deployed yet: keep trying
                self.error = f"{type(e).__name__}: {e}"
                new = []
            if new:
                self._wake()
            await asyncio.sleep(POLL_INTERVAL_S)
