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


def quantise(values, scale: int, input_type: str = "F32") -> list[str]:
    """Fixed-point felts of ``values`` exactly as ezkl quantises an input at ``scale``."""
    kind = getattr(ezkl.PyInputType, input_type)
    return [ezkl.float_to_felt(float(v), scale, kind) for v in values]


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
