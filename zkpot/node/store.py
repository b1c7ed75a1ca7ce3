"""The node's durable local state: training secrets until their declaration is settled, the
event cursor, leases, and the accuracy proofs the chain rejected (a final outcome: such a
proof is never resent).

A secret is kept per (job, stage, attempt): every attempt of a stage trains in its own order
(``zkpot.pot.attempts``). ρ and rand are what a node is paid for: lose them between declaring
and revealing and the declaration is slashed. They are written to SQLite with ``synchronous=FULL`` (every commit is
fsync'd) *before* the declaration is sent, and the trained weights S_{i+1} are written to a
file that is fsync'd and renamed into place, so a SIGKILL or power cut at any point leaves
either nothing or a complete record. Everything else here is an index the chain can rebuild.
"""

from __future__ import annotations

import os
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

SCHEMA = """
CREATE TABLE IF NOT EXISTS attempt_secret (
    job_id INTEGER NOT NULL,
    stage INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    weights_hash BLOB NOT NULL,
    model_commitment TEXT NOT NULL,
    rho BLOB NOT NULL,
    rand BLOB NOT NULL,
    commitment BLOB NOT NULL,
    weights_file TEXT NOT NULL,
    status TEXT NOT NULL,
    updated REAL NOT NULL,
    PRIMARY KEY (job_id, stage, attempt)
);
CREATE TABLE IF NOT EXISTS proof_rejected (
    job_id INTEGER NOT NULL,
    shard INTEGER NOT NULL,
    reason TEXT NOT NULL,
    updated REAL NOT NULL,
    PRIMARY KEY (job_id, shard)
);
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS lease (
    name TEXT PRIMARY KEY, pid INTEGER NOT NULL, heartbeat REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS progress (
    name TEXT PRIMARY KEY, kind TEXT NOT NULL, done INTEGER NOT NULL, total INTEGER NOT NULL,
    note TEXT NOT NULL, updated REAL NOT NULL
);
"""

# an attempt's secret moves trained -> declared -> revealed -> (settled on chain) forgotten;
# unused: the attempt's commit phase closed before this node declared (nothing to open)
TRAINED, DECLARED, REVEALED, UNUSED = "trained", "declared", "revealed", "unused"


@dataclass(frozen=True)
class StageSecret:
    """What a node must keep between training a stage and its reveal."""

    job_id: int
    stage: int
    attempt: int
    weights_hash: bytes
    model_commitment: int
    rho: bytes
    rand: bytes
    commitment: bytes
    weights_file: Path
    status: str


@dataclass(frozen=True)
class RejectedProof:
    """A shard's accuracy proof that the chain refused (e.g. ``ProofRejected``, ``ModelMismatch``)."""

    job_id: int
    shard: int
    reason: str
    updated: float


@dataclass(frozen=True)
class Progress:
    name: str
    kind: str
    done: int
    total: int
    note: str
    updated: float


def write_durably(path: Path, data: bytes) -> None:
    """Write a file so that after a crash it is either absent or complete (fsync + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class NodeStore:
    """One node's SQLite file; safe to open from the node's several worker processes."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / "node.sqlite"
        with self._connect() as db:
            db.executescript(SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")  # fsync every commit: secrets survive SIGKILL
            yield db
        finally:
            db.close()

    # ---- training secrets -------------------------------------------------------------------
    def weights_path(self, job_id: int, stage: int, attempt: int) -> Path:
        return self.folder / "weights" / f"job{job_id}-stage{stage}-attempt{attempt}.bin"

    def save_trained(self, job_id: int, stage: int, attempt: int, *, weights_hash: bytes,
                     model_commitment: int, rho: bytes, rand: bytes, commitment: bytes,
                     weights: bytes) -> StageSecret:
        """Keep a trained attempt's secret and weights; the first record for it wins."""
        existing = self.secret(job_id, stage, attempt)
        if existing is not None:
            return existing
        wfile = self.weights_path(job_id, stage, attempt)
        write_durably(wfile, weights)
        with self._connect() as db:
            db.execute(
                "INSERT OR IGNORE INTO attempt_secret VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (job_id, stage, attempt, weights_hash, str(model_commitment), rho, rand, commitment,
                 str(wfile), TRAINED, time.time()),
            )
        return self.secret(job_id, stage, attempt)  # type: ignore[return-value]

    def secret(self, job_id: int, stage: int, attempt: int) -> StageSecret | None:
        with self._connect() as db:
            row = db.execute(f"SELECT {_COLUMNS} FROM attempt_secret WHERE job_id=? AND stage=? AND attempt=?",
                             (job_id, stage, attempt)).fetchone()
        return None if row is None else _secret(row)

    def secrets(self, status: str | None = None) -> list[StageSecret]:
        query = f"SELECT {_COLUMNS} FROM attempt_secret"
        args: tuple = ()
        if status is not None:
            query += " WHERE status=?"
            args = (status,)
        with self._connect() as db:
            rows = db.execute(query + " ORDER BY job_id, stage, attempt", args).fetchall()
        return [_secret(r) for r in rows]

    def mark(self, job_id: int, stage: int, attempt: int, status: str) -> None:
        with self._connect() as db:
            db.execute("UPDATE attempt_secret SET status=?, updated=? WHERE job_id=? AND stage=? AND attempt=?",
                       (status, time.time(), job_id, stage, attempt))

    def forget(self, job_id: int, stage: int, attempt: int) -> None:
        """Drop a secret the chain no longer needs (its declaration settled, or never made)."""
        secret = self.secret(job_id, stage, attempt)
        with self._connect() as db:
            db.execute("DELETE FROM attempt_secret WHERE job_id=? AND stage=? AND attempt=?",
                       (job_id, stage, attempt))
        if secret is not None:
            secret.weights_file.unlink(missing_ok=True)

    # ---- accuracy proofs the chain rejected -------------------------------------------------
    def reject_proof(self, job_id: int, shard: int, reason: str) -> None:
        """Record that the chain refused this node's proof of a shard; the first reason stays."""
        with self._connect() as db:
            db.execute("INSERT OR IGNORE INTO proof_rejected VALUES (?,?,?,?)",
                       (job_id, shard, reason, time.time()))

    def proof_rejection(self, job_id: int, shard: int) -> str | None:
        with self._connect() as db:
            row = db.execute("SELECT reason FROM proof_rejected WHERE job_id=? AND shard=?",
                             (job_id, shard)).fetchone()
        return None if row is None else row[0]

    def rejected_proofs(self) -> list[RejectedProof]:
        with self._connect() as db:
            rows = db.execute("SELECT job_id, shard, reason, updated FROM proof_rejected "
                              "ORDER BY job_id, shard").fetchall()
        return [RejectedProof(*r) for r in rows]

    # ---- small key/values (the event cursor, flags) -------------------------------------
    def get(self, key: str, default: str | None = None) -> str | None:
        with self._connect() as db:
            row = db.execute("SELECT value FROM kv WHERE key=?", (key,)).fetchone()
        return default if row is None else row[0]

    def put(self, key: str, value: str) -> None:
        with self._connect() as db:
            db.execute("INSERT OR REPLACE INTO kv VALUES (?,?)", (key, value))

    # ---- leases: "a live process is working on this" ---------------------------------------
    def acquire(self, name: str, stale_after: float) -> bool:
        """Take a lease unless a live holder heartbeated within ``stale_after`` seconds."""
        now = time.time()
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute("SELECT pid, heartbeat FROM lease WHERE name=?", (name,)).fetchone()
            if row and row[0] != os.getpid() and now - row[1] < stale_after and _alive(row[0]):
                db.execute("ROLLBACK")
                return False
            db.execute("INSERT OR REPLACE INTO lease VALUES (?,?,?)", (name, os.getpid(), now))
            db.execute("COMMIT")
        return True

    def heartbeat(self, name: str) -> None:
        with self._connect() as db:
            db.execute("UPDATE lease SET heartbeat=? WHERE name=? AND pid=?",
                       (time.time(), name, os.getpid()))

    def release(self, name: str) -> None:
        with self._connect() as db:
            db.execute("DELETE FROM lease WHERE name=? AND pid=?", (name, os.getpid()))

    def held(self, name: str, stale_after: float) -> bool:
        with self._connect() as db:
            row = db.execute("SELECT pid, heartbeat FROM lease WHERE name=?", (name,)).fetchone()
        return bool(row) and time.time() - row[1] < stale_after and _alive(row[0])

    def leases(self) -> list[str]:
        with self._connect() as db:
            return [r[0] for r in db.execute("SELECT name FROM lease").fetchall()]

    # ---- progress, for the operator's live view ----------------------------------------
    def set_progress(self, name: str, kind: str, done: int, total: int, note: str = "") -> None:
        with self._connect() as db:
            db.execute("INSERT OR REPLACE INTO progress VALUES (?,?,?,?,?,?)",
                       (name, kind, done, total, note, time.time()))

    def clear_progress(self, name: str) -> None:
        with self._connect() as db:
            db.execute("DELETE FROM progress WHERE name=?", (name,))

    def progress(self) -> list[Progress]:
        with self._connect() as db:
            rows = db.execute("SELECT * FROM progress ORDER BY name").fetchall()
        return [Progress(*r) for r in rows]


_COLUMNS = ("job_id, stage, attempt, weights_hash, model_commitment, rho, rand, commitment, weights_file, "
            "status")


def _secret(row) -> StageSecret:
    return StageSecret(row[0], row[1], row[2], bytes(row[3]), int(row[4]), bytes(row[5]), bytes(row[6]),
                       bytes(row[7]), Path(row[8]), row[9])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
