"""Content-addressed storage: CIDv1 (raw codec, sha2-256) over a local folder or a Kubo node.

A zkpot content ID is always the CIDv1 of the bytes as one raw block:
``b`` + base32(lower, no padding) of ``0x01 0x55 0x12 0x20 || sha256(data)``. This is what
IPFS gives for single-block data added with ``--cid-version 1 --raw-leaves`` and exactly what
``ipfs block put --cid-codec raw`` gives for any size it accepts. Every read is checked
against its CID.
"""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
from pathlib import Path
from typing import IO, Protocol, runtime_checkable

CODEC_RAW = 0x55
CODEC_DAG_PB = 0x70
_SHA2_256 = 0x12
# Kubo refuses blocks over 1 MiB unless allow-big-block is set; the network limit is 4 MiB
KUBO_MAX_BLOCK = 4 * 1024 * 1024 - 1024


class StorageError(Exception):
    """A store could not save or return an object."""


class ContentMismatch(StorageError):
    """Bytes read for a CID do not hash to that CID."""


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def cid_v1(data: bytes, codec: int = CODEC_RAW) -> str:
    """CIDv1 of ``data`` (sha2-256 multihash, base32 lower-case, multibase prefix ``b``)."""
    digest = hashlib.sha256(data).digest()
    raw = _varint(1) + _varint(codec) + bytes([_SHA2_256, len(digest)]) + digest
    return "b" + base64.b32encode(raw).decode("ascii").lower().rstrip("=")


def parse_cid(cid: str) -> tuple[int, bytes]:
    """(codec, sha256 digest) of a zkpot CID; raises ``StorageError`` if it is not one."""
    shown = repr(cid[:80] + "…" if isinstance(cid, str) and len(cid) > 80 else cid)   # it may be anyone's
    if not isinstance(cid, str) or not cid.startswith("b") or len(cid) > 100:
        raise StorageError(f"not a base32 CIDv1: {shown}")
    body = cid[1:].upper()
    try:
        raw = base64.b32decode(body + "=" * (-len(body) % 8))
    except (ValueError, TypeError) as exc:
        raise StorageError(f"not a base32 CIDv1: {shown}") from exc
    if len(raw) != 36 or raw[0] != 1 or raw[2:4] != bytes([_SHA2_256, 32]):
        raise StorageError(f"unsupported CID {shown}: zkpot uses CIDv1 with sha2-256")
    return raw[1], raw[4:]


def verify(cid: str, data: bytes) -> bytes:
    """Return ``data`` if it matches ``cid``; raise ``ContentMismatch`` otherwise."""
    codec, digest = parse_cid(cid)
    if hashlib.sha256(data).digest() != digest:
        raise ContentMismatch(f"content does not match {cid} (sha256 {hashlib.sha256(data).hexdigest()})")
    return data


@runtime_checkable
class Store(Protocol):
    """A content-addressed store. ``get`` verifies bytes against the CID."""

    def put(self, data: bytes) -> str: ...
    def get(self, cid: str) -> bytes: ...
    def has(self, cid: str) -> bool: ...
    def open(self, cid: str) -> IO[bytes]: ...
    def remove(self, cid: str) -> None: ...


class LocalStore:
    """Objects as files named by CID in a folder (written atomically)."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, cid: str) -> Path:
        parse_cid(cid)  # also rejects path tricks: a valid CID is [a-z2-7]+
        return self.root / cid

    def put(self, data: bytes) -> str:
        """Store ``data``; return its CID (idempotent)."""
        cid = cid_v1(bytes(data))
        path = self._path(cid)
        if path.exists():
            return cid
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return cid

    def get(self, cid: str) -> bytes:
        """The bytes for ``cid``, verified; ``KeyError`` if absent."""
        path = self._path(cid)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise KeyError(f"{cid} is not in the local store {self.root}") from None
        return verify(cid, data)

    def has(self, cid: str) -> bool:
        """Whether ``cid`` is stored."""
        return self._path(cid).exists()

    def open(self, cid: str) -> IO[bytes]:
        """A binary file for streaming a large object (unverified; use ``get`` to verify)."""
        path = self._path(cid)
        if not path.exists():
            raise KeyError(f"{cid} is not in the local store {self.root}")
        return path.open("rb")

    def remove(self, cid: str) -> None:
        """Delete ``cid`` if stored (content a failed job preparation wrote)."""
        self._path(cid).unlink(missing_ok=True)


class KuboStore:
    """Objects as raw blocks on a Kubo (IPFS) node through its RPC API."""

    def __init__(self, rpc_url: str, timeout: float = 60.0) -> None:
        import httpx

        self.rpc_url = rpc_url.rstrip("/")
        self._client = httpx.Client(timeout=timeout)

    def _post(self, endpoint: str, **kwargs):
        import httpx

        try:
            response = self._client.post(f"{self.rpc_url}/api/v0/{endpoint}", **kwargs)
        except httpx.HTTPError as exc:
            raise StorageError(f"Kubo RPC {self.rpc_url} unreachable: {exc}") from exc
        return response

    def put(self, data: bytes) -> str:
        """Store ``data`` as one raw block; return its CID (checked against ours)."""
        if len(data) > KUBO_MAX_BLOCK:
            raise StorageError(f"object of {len(data)} bytes exceeds the {KUBO_MAX_BLOCK}-byte block limit")
        params = {"cid-codec": "raw", "mhtype": "sha2-256", "pin": "true", "allow-big-block": "true"}
        response = self._post("block/put", params=params, files={"file": ("blob", bytes(data))})
        if response.status_code != 200:
            raise StorageError(f"Kubo block/put failed ({response.status_code}): {response.text[:200]}")
        cid = cid_v1(bytes(data))
        if response.json().get("Key") != cid:
            raise StorageError(f"Kubo returned CID {response.json().get('Key')}, expected {cid}")
        return cid

    def get(self, cid: str) -> bytes:
        """The bytes for ``cid`` from the node, verified; ``KeyError`` if absent."""
        parse_cid(cid)
        response = self._post("block/get", params={"arg": cid, "offline": "true"})
        if response.status_code != 200:
            raise KeyError(f"{cid} not available from Kubo: {response.text[:200]}")
        return verify(cid, response.content)

    def has(self, cid: str) -> bool:
        """Whether the node has ``cid`` locally."""
        parse_cid(cid)
        response = self._post("block/stat", params={"arg": cid, "offline": "true"})
        return response.status_code == 200

    def open(self, cid: str) -> IO[bytes]:
        """A binary file over the verified object (blocks are at most 4 MiB)."""
        import io

        return io.BytesIO(self.get(cid))

    def remove(self, cid: str) -> None:
        """Unpin and delete ``cid`` from the node (content a failed job preparation wrote)."""
        parse_cid(cid)
        self._post("pin/rm", params={"arg": cid})
        self._post("block/rm", params={"arg": cid, "force": "true"})


def open_store(settings) -> Store:
    """The store chosen by ``settings.storage_backend`` (``local`` or ``kubo``)."""
    if settings.storage_backend == "kubo":
        return KuboStore(settings.kubo_rpc_url)
    return LocalStore(settings.store_dir)
