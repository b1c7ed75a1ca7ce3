"""The KZG structured reference string (SRS): where it comes from, and who may use a local one.

Whoever generates an SRS can forge proofs under it, so zkpot takes one of two:

- a ceremony SRS, loaded from ``ZKPOT_SRS_PATH`` (``Settings.srs_path``): a file of exactly
  the circuit's 2^logrows rows, or a folder of them named ``kzg<logrows>.srs`` (as ezkl's
  ceremony files are published, one per size);
- a local single-party SRS, generated here with ``gen_srs`` and cached per logrows, only for a
  development chain (chain id 31337 or 1337) or for work that names no chain at all (tests,
  benchmarks, offline commitments). Anything that touches a chain passes its chain id
  (``ensure_circuit(chain_id=…)``, the verifier deployment takes its client's), and a local SRS
  is then refused on any other chain with ``LocalSrsRefused``, naming ``ZKPOT_SRS_PATH``.

A circuit records the SRS it was set up with (sha256, logrows, origin); ``check_srs`` refuses
any other (``SrsMismatch``): keys and VKA only work with their own SRS.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import ezkl

from zkpot.config import Settings

DEV_CHAIN_IDS = frozenset({31337, 1337})
LOCAL, CEREMONY = "local", "file"


class SrsMismatch(RuntimeError):
    """The SRS offered is not the one the cached circuit's keys were set up with."""


class LocalSrsRefused(RuntimeError):
    """A locally generated SRS was about to serve a chain that is not a development chain."""

    def __init__(self, chain_id: int, what: str):
        self.chain_id = chain_id
        super().__init__(
            f"{what} for chain {chain_id} needs a ceremony SRS: a locally generated SRS lets "
            f"whoever generated it forge proofs, so it serves development chains "
            f"({', '.join(map(str, sorted(DEV_CHAIN_IDS)))}) only. Set ZKPOT_SRS_PATH to a "
            f"ceremony SRS file (and set the circuit up again with it)")


def is_dev_chain(chain_id: int | None) -> bool:
    """No chain named (offline work, tests) or a development chain."""
    return chain_id is None or int(chain_id) in DEV_CHAIN_IDS


def require_srs_for_chain(origin: str, chain_id: int | None, what: str = "a circuit") -> None:
    """Raise ``LocalSrsRefused`` when a local SRS (``origin``) would serve a non-dev chain."""
    if origin != CEREMONY and not is_dev_chain(chain_id):
        raise LocalSrsRefused(int(chain_id), what)


def file_sha256(path: Path) -> str:
    """sha256 of a file, read in 4 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


@lru_cache(maxsize=16)
def _sha256_of(path: str, size: int, mtime_ns: int) -> str:
    return file_sha256(Path(path))


def srs_sha256(path: Path) -> str:
    """sha256 of an SRS file, hashed once per process while the file is unchanged."""
    path = Path(path).resolve()
    stat = path.stat()
    return _sha256_of(str(path), stat.st_size, stat.st_mtime_ns)


def srs_logrows(path: Path) -> int:
    """The logrows an SRS file holds (halo2 writes k as a little-endian u32 first)."""
    with open(path, "rb") as fh:
        return int.from_bytes(fh.read(4), "little")


@contextmanager
def locked(path: Path):
    """An exclusive file lock (setup and SRS generation run once across processes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def srs_for(settings: Settings, logrows: int, chain_id: int | None = None) -> tuple[Path, str]:
    """(path, origin) of the SRS for ``logrows``: the ceremony file when configured, else a
    local one, generated on first use, when the chain allows it."""
    if settings.srs_path is not None:
        path = Path(settings.srs_path)
        if path.is_dir():
            path = path / f"kzg{logrows}.srs"
        if not path.exists():
            raise FileNotFoundError(f"ZKPOT_SRS_PATH: no ceremony SRS at {path}")
        if srs_logrows(path) != logrows:
            # ezkl's own commitments (kzg_commit) would not downsize a larger one
            raise ValueError(f"ZKPOT_SRS_PATH {path} holds 2^{srs_logrows(path)} rows; the circuit "
                             f"needs an SRS of exactly 2^{logrows} rows (a ceremony publishes one "
                             f"file per size: point ZKPOT_SRS_PATH at their folder, kzg<k>.srs)")
        return path, CEREMONY
    require_srs_for_chain(LOCAL, chain_id, "setting a circuit up")
    path = settings.circuits_dir / "srs" / f"kzg{logrows}.srs"
    with locked(path.with_suffix(".lock")):
        if not path.exists():
            partial = path.with_suffix(f".partial{os.getpid()}")
            ezkl.gen_srs(str(partial), logrows)
            partial.rename(path)
    return path, LOCAL


def check_srs(circuit) -> None:
    """Raise ``SrsMismatch`` unless ``circuit.srs_path`` is the SRS the circuit was set up with."""
    recorded = circuit.info.get("srs") or {}
    actual = srs_sha256(circuit.srs_path)
    if actual != recorded.get("sha256"):
        raise SrsMismatch(
            f"circuit {circuit.key} was set up with the SRS of sha256 {recorded.get('sha256')} "
            f"(logrows {recorded.get('logrows')}), but {circuit.srs_path} has sha256 {actual} "
            f"(logrows {srs_logrows(circuit.srs_path)}); its keys only work with the original: "
            f"point ZKPOT_SRS_PATH at the original SRS file, or delete {circuit.dir} to set "
            f"the circuit up again with this SRS")


__all__ = ["CEREMONY", "DEV_CHAIN_IDS", "LOCAL", "LocalSrsRefused", "SrsMismatch", "check_srs",
           "file_sha256", "is_dev_chain", "locked", "require_srs_for_chain", "srs_for", "srs_logrows",
           "srs_sha256"]
