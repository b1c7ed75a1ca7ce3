"""The employer's private test sets: kept outside the content store (which on IPFS is public)
and found only by who prepared them and for which manifest.

``<state_dir>/private/<employer address>/<manifest hash>/`` holds ``testset.npz`` (x, y,
num_classes; owner-only), ``shards.bin`` (each shard's canonical bytes, ``zkpot.testset``,
length-prefixed) and ``record.json`` (employer, manifest hash, samples). A job's test
set is looked up from the job on chain: its employer and its manifest hash together. A copy
job that reuses a victim's manifest hash has another employer, so it finds nothing here.
"""

from __future__ import annotations

import io
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zkpot import datasets
from zkpot.config import Settings
from zkpot.joberrors import TestSetNotHeld

TEST_SET_FILE = "testset.npz"
SHARDS_FILE = "shards.bin"
RECORD_FILE = "record.json"


@dataclass(frozen=True)
class PrivateTestSet:
    """Where one job's T is kept, and for whom."""

    employer: str          # checksummed address of the employer who prepared the job
    manifest_hash: bytes
    folder: Path
    samples: int

    @property
    def path(self) -> Path:
        return self.folder / TEST_SET_FILE


def _checksum(address: str) -> str:
    from eth_utils import to_checksum_address

    return to_checksum_address(address)


def private_dir(settings: Settings, employer: str, manifest_hash: bytes) -> Path:
    """The folder of one (employer, manifest) pair (never served, never in the content store)."""
    return settings.state_dir / "private" / _checksum(employer).lower() / bytes(manifest_hash).hex()


def _write(path: Path, data: bytes) -> None:
    """Owner-only, written whole then renamed into place."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def keep(settings: Settings, employer: str, manifest_hash: bytes, test: datasets.Dataset,
         shards: list[bytes]) -> PrivateTestSet:
    """Keep ``test`` privately as the test set ``employer`` prepared for ``manifest_hash``, with
    its shards' canonical bytes (what ``publishTestShard`` posts)."""
    folder = private_dir(settings, employer, manifest_hash)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    for parent in (folder.parent, folder.parent.parent):
        os.chmod(parent, 0o700)
    buf = io.BytesIO()
    np.savez(buf, x=test.features, y=test.labels, num_classes=np.int64(test.num_classes))
    _write(folder / TEST_SET_FILE, buf.getvalue())
    _write(folder / SHARDS_FILE, b"".join(len(s).to_bytes(8, "big") + s for s in shards))
    record = {"employer": _checksum(employer), "manifest_hash": "0x" + bytes(manifest_hash).hex(),
              "samples": len(test)}
    _write(folder / RECORD_FILE, json.dumps(record, sort_keys=True).encode())
    return PrivateTestSet(record["employer"], bytes(manifest_hash), folder, len(test))


def find(settings: Settings, employer: str, manifest_hash: bytes) -> PrivateTestSet:
    """The test set ``employer`` prepared for ``manifest_hash``; ``TestSetNotHeld`` otherwise."""
    folder = private_dir(settings, employer, manifest_hash)
    try:
        record = json.loads((folder / RECORD_FILE).read_text())
    except (OSError, ValueError):
        record = None
    if (record is None or not (folder / TEST_SET_FILE).is_file()
            or record.get("employer") != _checksum(employer)
            or record.get("manifest_hash") != "0x" + bytes(manifest_hash).hex()):
        raise TestSetNotHeld(f"no test set prepared by {_checksum(employer)} for manifest "
                             f"0x{bytes(manifest_hash).hex()} is held here: publish it from the "
                             "machine that created the job")
    return PrivateTestSet(record["employer"], bytes(manifest_hash), folder, int(record["samples"]))


def load(held: PrivateTestSet) -> datasets.Dataset:
    """The test set's samples, validated."""
    with np.load(held.path, allow_pickle=False) as a:
        return datasets.validate(a["x"], a["y"], int(a["num_classes"]))


def load_shards(held: PrivateTestSet) -> list[bytes]:
    """The test set's shards as they are posted on chain."""
    data, shards, at = (held.folder / SHARDS_FILE).read_bytes(), [], 0
    while at < len(data):
        size = int.from_bytes(data[at:at + 8], "big")
        shards.append(data[at + 8:at + 8 + size])
        at += 8 + size
    return shards


def discard(held: PrivateTestSet) -> None:
    """Forget a test set (its job was never created)."""
    shutil.rmtree(held.folder, ignore_errors=True)
