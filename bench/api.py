"""API benchmark: the gateway as deployed (its own uvicorn process, real Anvil and Redis) under a
bounded loopback load, and its memory during the hostile uploads.

- Load: ``READERS`` concurrent readers loop over ``GET /api/jobs/{id}`` and ``GET /api/jobs``
  (each waits for its answer, then asks again) while ``STREAMS`` SSE clients hold
  ``/api/events`` open, for ``DURATION_S``; a job is created on chain every few seconds so the
  streams carry events. ``api_read_p50_ms`` / ``api_read_p99_ms`` are over every read;
  ``api_errors`` counts reads that failed or were not 200, and streams that broke.
- Bombs: the deflate bomb (1 MiB → 1 GiB), the same bomb with lying zip sizes and an NPZ
  declaring 10^12 elements, each posted by a signed-in employer; ``api_bomb_peak_mb`` is the
  API process's peak resident memory across them (sampled every 10 ms).
Only loopback is used; every count and duration is bounded.
"""

from __future__ import annotations

import asyncio
import os
import random
import time

import httpx
from eth_account import Account
from eth_account.messages import encode_defunct

from tests.api import chainwork, hostile
from tests.api.apiprocess import ApiProcess, PeakRss
from zkpot.config import Settings
from zkpot.devnet import Anvil, Redis
from zkpot.spec import PRESETS

READERS, STREAMS, DURATION_S, JOBS = 200, 50, 60.0, 20
QUICK = (40, 10, 10.0, 5)


def _bearer(url: str, key: str) -> dict[str, str]:
    acct = Account.from_key(key)
    challenge = httpx.get(f"{url}/api/auth/nonce", params={"address": acct.address}).json()
    sig = acct.sign_message(encode_defunct(text=challenge["message"])).signature.to_0x_hex()
    out = httpx.post(f"{url}/api/auth/verify",
                     json={"message": challenge["message"], "signature": sig, "bearer": True}).json()
    return {"Authorization": f"Bearer {out['token']}"}


def _bombs(api: ApiProcess) -> tuple[float, dict[str, int]]:
    import json

    auth = _bearer(api.url, chainwork.KEYS[0])
    form = {"spec": json.dumps(PRESETS["wine-mlp"]), "reward_per_declaration_wei": "1000"}
    answers = {}
    with PeakRss(api.proc.pid) as rss:
        for name, build in (("deflate", hostile.deflate_bomb), ("lying", hostile.lying_bomb),
                            ("shape", hostile.huge_shape)):
            r = httpx.post(f"{api.url}/api/jobs", headers=auth, data=form, timeout=120,
                           files={"dataset": ("d.npz", build(), "application/octet-stream")})
            answers[name] = r.status_code
    return rss.peak_mb, answers


class _Connection:
    """One keep-alive HTTP/1.1 connection for GETs, as a browser tab holds one (the load tool's
    own overhead must not be what is measured: a pooled client spends more CPU than the API)."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader = self.writer = None

    async def get(self, path: str) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n\r\n".encode())
        await self.writer.drain()
        status = int((await self.reader.readline()).split()[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def _reader(port: int, ids: list[int], until: float, lat: list, errors: list) -> None:
    rng = random.Random(len(lat))
    conn = _Connection("127.0.0.1", port)
    try:
        while time.monotonic() < until:
            path = f"/api/jobs/{rng.choice(ids)}" if rng.random() < 0.8 else "/api/jobs?limit=50"
            started = time.perf_counter()
            try:
                ok = await conn.get(path) == 200
            except (OSError, ValueError, IndexError, asyncio.IncompleteReadError):
                ok = False
                conn.close()
                conn = _Connection("127.0.0.1", port)
            lat.append((time.perf_counter() - started) * 1000)
            if not ok:
                errors.append(path)
    finally:
        conn.close()


async def _stream(url: str, until: float, counts: list, errors: list) -> None:
    seen = 0
    try:
        async with httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(10, read=30)) as c:
            async with c.stream("GET", "/api/events") as r:
                async for line in r.aiter_lines():
                    if line.startswith("event: chain"):
                        seen += 1
                    if time.monotonic() >= until:
                        break
    except httpx.HTTPError as e:
        errors.append(f"stream: {type(e).__name__}")
    counts.append(seen)


async def _creator(settings: Settings, deployment, until: float, made: list) -> None:
    while time.monotonic() < until - 2:
        made.append(await asyncio.to_thread(chainwork.create_job, settings, deployment))
        await asyncio.sleep(3)


async def _load(settings, deployment, api: ApiProcess, ids: list[int], readers: int, streams: int,
                duration: float):
    until = time.monotonic() + duration
    lat, errors, counts, made = [], [], [], []
    tasks = [asyncio.create_task(_stream(api.url, until, counts, errors)) for _ in range(streams)]
    await asyncio.sleep(1.0)  # the streams are open before the readers start
    tasks += [asyncio.create_task(_reader(api.port, ids, until, lat, errors)) for _ in range(readers)]
    tasks.append(asyncio.create_task(_creator(settings, deployment, until, made)))
    await asyncio.gather(*tasks)
    return lat, errors, counts, made


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(ctx) -> dict:
    readers, streams, duration, jobs = QUICK if ctx.quick else (READERS, STREAMS, DURATION_S, JOBS)
    logs = ctx.work_dir / "api-logs"
    logs.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    with Anvil(log_dir=logs) as chain, Redis(log_dir=logs) as redis:
        settings = Settings.from_env(environ={}, state_dir=ctx.work_dir / "api-state", rpc_url=chain.rpc_url,
                                     redis_url=redis.url)
        deployment = chainwork.deploy(settings)
        ids = [chainwork.create_job(settings, deployment, stages=3) for _ in range(jobs)]
        with ApiProcess(settings, logs / "api.log") as api:
            deadline = time.monotonic() + 60
            while httpx.get(f"{api.url}/api/status").json()["jobs"] < jobs and time.monotonic() < deadline:
                time.sleep(0.2)
            bomb_mb, answers = _bombs(api)
            with PeakRss(api.proc.pid) as rss:
                lat, errors, counts, made = asyncio.run(
                    _load(settings, deployment, api, ids, readers, streams, duration))
            stopped = api.terminate(timeout=60)
    load_after = os.getloadavg()
    ctx.notes["api"] = (f"{readers} readers and {streams} SSE streams for {duration:.0f} s on loopback "
                        f"({len(lat)} reads, {len(made)} jobs created during the load); bombs answered "
                        f"{answers}; load average {load_before[0]:.2f} before, {load_after[0]:.2f} after; "
                        f"API stopped on SIGTERM: {stopped is not None}")
    if any(s != 422 for s in answers.values()):
        errors.append(f"bombs answered {answers}")
    return {
        "api_read_p50_ms": round(_percentile(lat, 0.50), 1),
        "api_read_p99_ms": round(_percentile(lat, 0.99), 1),
        "api_errors": len(errors),
        "api_bomb_peak_mb": round(bomb_mb, 1),
        "api_reads": len(lat),
        "api_load_peak_mb": round(rss.peak_mb, 1),
        "api_stream_events_min": min(counts) if counts else None,
        "api_loadavg_1m": round(load_before[0], 2),
    }
