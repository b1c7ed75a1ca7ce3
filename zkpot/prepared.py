"""Jobs a server prepared for another wallet that are not on chain yet: bounded, and expiring.

A gateway stores a job's chunks, S_0, manifest and private test set before the employer's
wallet signs ``createJob``. Without a bound, a wallet that never signs fills the disk: each
preparation can store up to ``max_job_bytes`` (found by an attack: two requests, 374 MB, no
job). So every preparation is recorded (``<state_dir>/prepared/<token>.json``: the wallet, when,
its bytes, the CIDs it added and the CIDs it uses, and whether its test set was new), and
before a new one stores anything (``reserve``, under a file lock):

- a record whose job its wallet created on chain is marked created and kept (its CIDs are in
  use); while the caller cannot tell (a stale index), nothing that was stored expires;
- an uncreated record older than ``prepared_ttl_s`` is removed, with whatever it added that
  no live record (in progress, waiting or created) uses: content is shared between
  preparations of the same data, and is kept while another uses it;
- a wallet holding ``max_pending_jobs`` uncreated preparations, or a server holding more than
  ``max_pending_bytes`` of them (counting this one at ``max_job_bytes`` until it is stored), is
  refused (``JobsPending``) with the time the oldest expires.

A created job's content is never removed here. What a preparation stores beyond the estimate
(S_0, the manifest, the test set) is counted once it is recorded.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import shutil
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

from zkpot.config import Settings
from zkpot.joberrors import JobsPending

if TYPE_CHECKING:
    from zkpot.jobs import PreparedJob


class PreparedJobs:
    """The ledger of one state dir's preparations; ``created(manifest_hash, employer)`` says
    whether that employer's job with that manifest is on chain (the caller's index), or None
    when it cannot tell right now: then nothing expires."""

    def __init__(self, settings: Settings, created: Callable[[bytes, str], bool | None],
                 clock: Callable[[], float] = time.time):
        self.settings, self.created, self.clock = settings, created, clock
        self.dir = settings.path("prepared")

    # ---- the three steps of one preparation

    def reserve(self, employer: str, uses: list[str], test_set: Path) -> str:
        """Admit one more preparation for ``employer`` (or ``JobsPending``); its token. ``uses``:
        every CID it will store or find stored, and ``test_set`` the folder of its private test
        set, protected from here on (found by an attack: a sweep between its check of what is
        stored and its record removed content it relied on)."""
        s = self.settings
        with self._locked():
            records = self._sweep()
            pending = [r for r in records if not r["created"] and not r.get("expired")]
            mine = [r for r in pending if r["employer"].lower() == employer.lower()]
            # what expired preparations left because another still uses it is still held
            held = sum(r["bytes"] for r in records if not r["created"])
            if len(mine) >= s.max_pending_jobs:
                raise JobsPending(f"{employer} has {len(mine)} prepared jobs not created on chain yet "
                                  f"(at most {s.max_pending_jobs}, ZKPOT_MAX_PENDING_JOBS): send one of their "
                                  f"createJob transactions, or wait until {self._expiry(mine)}")
            if held + s.max_job_bytes > s.max_pending_bytes:
                raise JobsPending(f"this server holds {held} bytes of prepared jobs not created on chain yet "
                                  f"(at most {s.max_pending_bytes}, ZKPOT_MAX_PENDING_BYTES): try again after "
                                  f"{self._expiry(pending)}")
            token = secrets.token_hex(16)
            self._write(token, {"employer": employer, "at": self.clock(), "bytes": s.max_job_bytes,
                                "created": False, "manifest_hash": None, "added": [], "uses": sorted(set(uses)),
                                "test_set": str(test_set), "test_set_new": False})
        return token

    def record(self, token: str, prepared: "PreparedJob") -> float:
        """The stored preparation replaces its reservation; returns when it expires uncreated."""
        with self._locked():
            path = self._path(token)
            try:
                rec = json.loads(path.read_text())
            except FileNotFoundError:    # it took longer than the time a reservation waits: it starts now
                rec = {"employer": prepared.private.employer, "at": self.clock(), "created": False,
                       "uses": [*prepared.chunk_cids, prepared.manifest.initial_weights_cid, prepared.manifest_cid],
                       "test_set": str(prepared.private.folder)}
            rec.update(bytes=prepared.stored_bytes, manifest_hash=prepared.manifest_hash.hex(),
                       added=list(prepared.stored), test_set_new=prepared.private_new)
            self._write(token, rec)
        return rec["at"] + self.settings.prepared_ttl_s

    def release(self, token: str) -> None:
        """The preparation stored nothing to keep (it failed, or what it stored was removed)."""
        with self._locked():
            release(self.settings, token)

    # ---- internals

    def _sweep(self) -> list[dict]:
        """Every live record, after marking the created ones and removing the expired ones.

        An expired record's content that a live record uses (a preparation of the same data,
        in progress or created) is kept; the expired record keeps naming it, counted in the
        server's bytes but no longer as its wallet's job, until nothing but created jobs use it
        (then it is theirs) or nothing does (then it goes).
        """
        now, ttl = self.clock(), self.settings.prepared_ttl_s
        live, expired = [], []
        for path in sorted(self.dir.glob("*.json")):
            try:
                rec = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            rec["token"] = path.stem
            on_chain = (self.created(bytes.fromhex(rec["manifest_hash"]), rec["employer"])
                        if not rec["created"] and rec["manifest_hash"] else None)
            if on_chain:
                rec["created"] = True
                self._save(rec)
            # a reservation (no manifest yet) ages by the clock alone; a stored preparation
            # only once the chain is known not to hold its job (a stale index decides nothing)
            unconfirmed = rec["manifest_hash"] is None or on_chain is False
            if not rec["created"] and (rec.get("expired") or (unconfirmed and now - rec["at"] > ttl)):
                expired.append(rec)
            else:
                live.append(rec)
        if expired:
            from zkpot.storage import StorageError, open_store

            store = open_store(self.settings)
            in_use = {cid for r in live for cid in r["uses"]}
            by_created = {cid for r in live if r["created"] for cid in r["uses"]}
            live_sets = {r["test_set"] for r in live}
            for rec in expired:
                kept = []
                for cid in rec["added"]:
                    if cid in in_use:
                        kept.append(cid)
                        continue
                    try:
                        store.remove(cid)
                    except (StorageError, OSError, KeyError):
                        kept.append(cid)                 # the store is down: next time
                if rec["test_set_new"] and rec["test_set"] not in live_sets:
                    shutil.rmtree(rec["test_set"], ignore_errors=True)
                    rec["test_set_new"] = False
                if all(cid in by_created for cid in kept) and not rec["test_set_new"]:
                    self._path(rec["token"]).unlink(missing_ok=True)    # what is left is created jobs'
                else:
                    # kept for an uncreated preparation that uses it: still counted (found by an
                    # attack: re-preparing the same data before it expired held it for free)
                    rec.update(added=kept, uses=kept, expired=True)
                    self._save(rec)
                    live.append(rec)
        return live

    def _save(self, rec: dict) -> None:
        self._write(rec["token"], {k: v for k, v in rec.items() if k != "token"})

    def _expiry(self, records: list[dict]) -> str:
        first = min(r["at"] for r in records) + self.settings.prepared_ttl_s
        return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(first))

    def _path(self, token: str) -> Path:
        return _path(self.settings, token)

    def _write(self, token: str, rec: dict) -> None:
        path = self._path(token)
        tmp = path.with_name(f".{token}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(rec, sort_keys=True))
        os.replace(tmp, path)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self.dir / ".lock", "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)


def release(settings: Settings, token: str) -> None:
    """Forget preparation ``token`` (what it stored was removed, or never written)."""
    _path(settings, token).unlink(missing_ok=True)


def _path(settings: Settings, token: str) -> Path:
    if not (len(token) == 32 and all(c in "0123456789abcdef" for c in token)):
        raise ValueError(f"not a preparation token: {token!r}")
    return settings.path("prepared") / f"{token}.json"

