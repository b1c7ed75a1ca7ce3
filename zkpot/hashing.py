"""Hashing for the protocol: keccak256, the canonical state serialisation and its hash, and
the declaration commitment that the contract checks bit for bit.

Canonical state serialisation (``serialize_state``), documented in docs/pot.md:

    b"ZKPOTS1\\n" || header || b"\\n" || payload

``header`` is canonical JSON (sorted keys, no whitespace, ASCII) of
``{"frac_bits": {...}, "meta": {...}, "tensors": [[name, shape], ...]}``; tensors appear in the
order given (parameters in layer order, ``weight`` before ``bias``, then optimiser buffers).
``payload`` is every tensor's values, C order, as signed 64-bit big-endian integers.
The weights hash H(S) is keccak256 of these bytes.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from typing import Any

import numpy as np

try:  # safe-pysha3 (pinned in requirements.lock): ~0.8 us a call on short inputs
    from sha3 import keccak_256 as _hasher
except ImportError:  # pragma: no cover - pycryptodome (also pinned): ~4 us a call
    from Crypto.Hash import keccak as _pycryptodome

    def _hasher(data: bytes):      # the call shape of sha3's: _hasher(data).digest()
        return _pycryptodome.new(data=data, digest_bits=256)


def _keccak(data: bytes) -> bytes:
    return _hasher(data).digest()


STATE_MAGIC = b"ZKPOTS1\n"
_BE_INT64 = np.dtype(">i8")


def keccak(data: bytes) -> bytes:
    """keccak256 of ``data`` (Ethereum's hash, not NIST SHA3-256)."""
    return _keccak(bytes(data))


def keccak_chain(items: list[bytes]) -> list[bytes]:
    """Chain values h_1 = keccak(x_1), h_j = keccak(x_j || h_{j-1}) for every j (eq. 1).

    One hasher call a sample and no wrapper (this loop is rho's whole cost: 0.81 against
    0.92 us a sample through ``keccak``, measured)."""
    new, chain, h = _hasher, [], b""
    append = chain.append
    for item in items:
        h = new(item + h).digest()
        append(h)
    return chain


def canonical_json(obj: Any) -> bytes:
    """Canonical JSON bytes: sorted keys, no whitespace, ASCII only, no NaN/Infinity."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False).encode("ascii")


def serialize_state(tensors: Mapping[str, np.ndarray], meta: Mapping[str, Any] | None = None) -> bytes:
    """Serialise named integer tensors (in the mapping's order) canonically; see module doc."""
    header = {"meta": dict(meta or {}), "tensors": []}
    parts = []
    for name, array in tensors.items():
        arr = np.asarray(array)
        if arr.dtype.kind not in "iu":
            raise ValueError(f"tensor {name!r} has dtype {arr.dtype}; the state holds integers only")
        header["tensors"].append([name, list(arr.shape)])
        parts.append(np.ascontiguousarray(arr, dtype=_BE_INT64).tobytes())
    return STATE_MAGIC + canonical_json(header) + b"\n" + b"".join(parts)


def deserialize_state(data: bytes) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Inverse of ``serialize_state``: (tensors as native int64 arrays, meta)."""
    if not data.startswith(STATE_MAGIC):
        raise ValueError("not a zkpot state: missing magic bytes ZKPOTS1")
    end = data.find(b"\n", len(STATE_MAGIC))
    if end < 0:
        raise ValueError("truncated zkpot state: no header terminator")
    header = json.loads(data[len(STATE_MAGIC):end])
    offset = end + 1
    tensors: dict[str, np.ndarray] = {}
    for name, shape in header["tensors"]:
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        chunk = data[offset:offset + 8 * count]
        if len(chunk) != 8 * count:
            raise ValueError(f"truncated zkpot state at tensor {name!r}")
        tensors[name] = np.frombuffer(chunk, dtype=_BE_INT64).astype(np.int64).reshape(shape)
        offset += 8 * count
    if offset != len(data):
        raise ValueError(f"zkpot state has {len(data) - offset} trailing bytes")
    return tensors, header["meta"]


def weights_hash(state: bytes | Mapping[str, np.ndarray], meta: Mapping[str, Any] | None = None) -> bytes:
    """H(S): keccak256 of the canonical serialisation (pass the bytes or the tensors)."""
    data = state if isinstance(state, (bytes, bytearray)) else serialize_state(state, meta)
    return keccak(bytes(data))


def _bytes32(value: bytes | str, what: str) -> bytes:
    raw = bytes.fromhex(value.removeprefix("0x")) if isinstance(value, str) else bytes(value)
    if len(raw) != 32:
        raise ValueError(f"{what} must be 32 bytes, got {len(raw)}")
    return raw


def address_bytes(node: str | bytes) -> bytes:
    """A 20-byte EVM address from ``0x…`` hex (any case) or raw bytes."""
    raw = bytes.fromhex(node.removeprefix("0x")) if isinstance(node, str) else bytes(node)
    if len(raw) != 20:
        raise ValueError(f"node address must be 20 bytes, got {len(raw)}")
    return raw


def commitment(rho: bytes | str, weights_hash: bytes | str, model_commitment: int, rand: bytes | str,
               node: str | bytes) -> bytes:
    """A stage declaration: keccak256(abi.encodePacked(bytes32 rho, bytes32 weightsHash,
    uint256 modelCommitment, bytes32 rand, address node)), 32+32+32+32+20 bytes. It binds the
    training secret, the result and the declarer, and shows none of them."""
    return keccak(_bytes32(rho, "rho") + _bytes32(weights_hash, "weights hash")
                  + _uint256(model_commitment) + _bytes32(rand, "rand") + address_bytes(node))


def opening_key(rho: bytes | str, weights_hash: bytes | str, model_commitment: int, cid: str) -> bytes:
    """What openings of a stage agree on: keccak256(abi.encodePacked(rho, weightsHash,
    modelCommitment, keccak256(bytes(cid))))."""
    return keccak(_bytes32(rho, "rho") + _bytes32(weights_hash, "weights hash")
                  + _uint256(model_commitment) + keccak(cid.encode()))


def _uint256(value: int) -> bytes:
    if not 0 <= int(value) < 2**256:
        raise ValueError(f"{value} is not a uint256")
    return int(value).to_bytes(32, "big")


def random_rand() -> bytes:
    """A fresh 32-byte blinding value for a commitment (OS randomness)."""
    return secrets.token_bytes(32)
