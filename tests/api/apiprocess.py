"""The API as its own process (``uvicorn api.main:app``), as deployments run it: for what only
a real process shows (its memory, its restart, its answer to SIGTERM)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psutil

from zkpot.config import PROJECT_ROOT, Settings
from zkpot.devnet import free_port, wait_for_port

FIELDS = ("state_dir", "rpc_url", "redis_url", "deployment_file", "circuit_dir", "storage_dir",
          "max_upload_bytes", "max_dataset_bytes", "siwe_domain", "siwe_uri", "employer_key")


def env_of(settings: Settings, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZKPOT_")}
    for name in FIELDS:
        value = getattr(settings, name)
        if value is not None:
            value = value.get_secret_value() if hasattr(value, "get_secret_value") else value
            env[f"ZKPOT_{name.upper()}"] = str(value)
    env.update(ZKPOT_DEPLOYMENT_FILE=str(settings.deployment_path), ZKPOT_API_HOST="127.0.0.1",
               ZKPOT_API_PORT=str(port), PYTHONPATH=str(PROJECT_ROOT))
    return env


class ApiProcess:
    """One uvicorn process serving the API on a free loopback port; stopped by its pid."""

    def __init__(self, settings: Settings, log: Path, port: int | None = None):
        self.settings = settings
        self.port = port or free_port()
        self.log = log
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "ApiProcess":
        out = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", "warning"],
            cwd=PROJECT_ROOT, env=env_of(self.settings, self.port), stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True)
        wait_for_port(self.port, timeout=90, proc=self.proc)
        return self

    def terminate(self, timeout: float = 60) -> int | None:
        """SIGTERM, then wait; the exit code, or None if it did not stop within ``timeout``."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> "ApiProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def event_stream(url: str, **kwargs):
    """``GET /api/events`` of a real API process, streamed. Event streams never end, and
    Starlette's TestClient (1.3, the version Flower pins) buffers a whole response before it
    returns, so they are read from a real server."""
    return httpx.stream("GET", f"{url}/api/events", timeout=httpx.Timeout(10, read=120), **kwargs)


def wait_indexed(url: str, job_ids: list[int], timeout: float = 60.0) -> None:
    """Wait until the process's event index (it polls the chain) lists every job in ``job_ids``."""
    give_up = time.monotonic() + timeout
    while True:
        listed = {j["job_id"] for j in httpx.get(f"{url}/api/jobs", params={"limit": 200}, timeout=10).json()["items"]}
        if set(job_ids) <= listed:
            return
        assert time.monotonic() < give_up, f"the API never indexed jobs {sorted(set(job_ids) - listed)}"
        time.sleep(0.2)


class PeakRss:
    """Samples a process's resident memory in a thread; ``peak_mb`` is the largest seen."""

    def __init__(self, pid: int, every_s: float = 0.01):
        self.process = psutil.Process(pid)
        self.every_s = every_s
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, self.process.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(self.every_s)

    @property
    def peak_mb(self) -> float:
        return self.peak / 2**20

    def __enter__(self) -> "PeakRss":
        self.peak = self.process.memory_info().rss
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
