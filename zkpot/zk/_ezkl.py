"""Thin access to ezkl: its coroutine calls run to completion here, and its felt encodings.

ezkl 23 makes some calls async (``create_evm_verifier``, ``create_evm_vka``, ``get_srs`` …) and
others plain; callers of :mod:`zkpot.zk` see plain functions only.
"""

from __future__ import annotations

import asyncio
import inspect
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import ezkl

from zkpot.config import PROJECT_ROOT


def call(fn, *args, **kwargs) -> Any:
    """Call an ezkl function; when it is async (it needs a running loop), run it to completion.

    From a thread whose event loop is running (an async web handler, a browser driver), the
    call runs on a thread of its own, so it neither nests loops nor needs the caller's loop.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_call(fn, *args, **kwargs))
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="zkpot-ezkl") as pool:
        return pool.submit(lambda: asyncio.run(_call(fn, *args, **kwargs))).result()


async def _call(fn, *args, **kwargs):
    result = fn(*args, **kwargs)
    if inspect.isawaitable(result):
        result = await result
    return result


def felt_le_to_int(felt_hex: str) -> int:
    """ezkl writes field elements as little-endian hex; the EVM and the contracts read big-endian."""
    return int.from_bytes(bytes.fromhex(felt_hex.removeprefix("0x")), "little")


def g1_bytes(point) -> bytes:
    """A G1 point as the 64 bytes (x ‖ y, big-endian) that open an ezkl EVM proof."""
    return bytes.fromhex(point.x)[::-1] + bytes.fromhex(point.y)[::-1]


# BN254's base field: G1 is y² = x³ + 3 over it, and p ≡ 3 (mod 4), so √a = a^((p+1)/4)
BN254_P = 21888242871839275222246405745257275088696311157297823662689037894645226208583


def g1_bytes_from_compressed(compressed_hex: str) -> bytes:
    """A compressed G1 point (as ezkl's witness writes commitments) as the 64 bytes of a proof.

    The compressed form is x little-endian, with y's parity in the top bit of the last byte and
    the point-at-infinity flag in the bit below it.
    """
    raw = bytearray(bytes.fromhex(compressed_hex.removeprefix("0x")))
    if len(raw) != 32:
        raise ValueError(f"a compressed G1 point has 32 bytes, got {len(raw)}")
    odd, infinity = raw[31] >> 7, (raw[31] >> 6) & 1
    raw[31] &= 0x3F
    x = int.from_bytes(raw, "little")
    if infinity or x >= BN254_P:
        raise ValueError("not a commitment: point at infinity or x outside the field")
    rhs = (pow(x, 3, BN254_P) + 3) % BN254_P
    y = pow(rhs, (BN254_P + 1) // 4, BN254_P)
    if y * y % BN254_P != rhs:
        raise ValueError("not a commitment: x is not on the curve")
    if y & 1 != odd:
        y = BN254_P - y
    return x.to_bytes(32, "big") + y.to_bytes(32, "big")


# BN254's scalar field: ezkl's felts (values, commitments' openings) live in it
BN254_R = 21888242871839275222246405745257275088548364400416034343698204186575808495617


def int_felts(values) -> list[str]:
    """Integers as the felts ezkl takes (little-endian hex of the value mod r)."""
    return [(int(v) % BN254_R).to_bytes(32, "little").hex() for v in values]


def commit_ints(values, vk_path: Path, settings_path: Path, srs_path: Path) -> bytes:
    """The KZG commitment(s) of one column of integers, as the 64-byte points open a proof."""
    points = ezkl.kzg_commit(int_felts(values), str(vk_path), str(settings_path), str(srs_path))
    return b"".join(g1_bytes(p) for p in points)


def solc_for_ezkl() -> Path:
    """Make sure ezkl's EVM helpers find solc 0.8.20 (they look under ``~/.svm``; no download).

    The file is a small wrapper over the project's solc-js, written wherever HOME points.
    """
    target = Path(os.path.expanduser("~/.svm/0.8.20/solc-0.8.20"))
    shim = PROJECT_ROOT / "tools" / "solc-shim.js"
    package = PROJECT_ROOT / "tools" / "node_modules" / "solc-0.8.20"
    text = f'#!/bin/sh\nexec node "{shim}" "{package}" "$@"\n'
    if not target.exists() or target.read_text() != text:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        target.chmod(0o755)
    return target
