"""Local services for the demo and the tests: Anvil and Redis as child processes.

Each is started on a port of the caller's choosing (never assuming 8545/6379 are free),
waited for until it answers, and stopped by its own pid.
"""

from __future__ import annotations


import shutil
import socket
import subprocess
import time
from contextlib import closing
from pathlib import Path

from zkpot import PROJECT_ROOT

ANVIL_BIN = PROJECT_ROOT / ".tools" / "bin" / "anvil"
# Anvil's default mnemonic: its first accounts are funded and unlocked (dev only)
DEV_MNEMONIC = "test test test test test test test test test test test junk"


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before port {port} opened")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing answered on 127.0.0.1:{port} within {timeout:.0f}s")


class ServiceProcess:
    """A child process serving on a loopback port; a context manager that stops it."""

    name = "service"

    def __init__(self, port: int | None = None, log_dir: Path | None = None):
        self.port = port or free_port()
        self.log_dir = log_dir
        self.proc: subprocess.Popen | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> "ServiceProcess":
        out = subprocess.DEVNULL
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            out = open(self.log_dir / f"{self.name}-{self.port}.log", "ab")
        self.proc = subprocess.Popen(
            self.command(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        wait_for_port(self.port, proc=self.proc)
        return self

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> "ServiceProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class Anvil(ServiceProcess):
    """A local EVM chain. Base fee 0 (brownie's dev settings); accounts from DEV_MNEMONIC."""

    name = "anvil"

    def __init__(self, port: int | None = None, log_dir: Path | None = None,
                 accounts: int = 10, code_size_limit: int | None = None):
        super().__init__(port, log_dir)
        self.accounts = accounts
        self.code_size_limit = code_size_limit

    @property
    def rpc_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        binary = str(ANVIL_BIN) if ANVIL_BIN.exists() else (shutil.which("anvil") or "anvil")
        cmd = [binary, "--port", str(self.port), "--host", "127.0.0.1",
               "--accounts", str(self.accounts), "--mnemonic", DEV_MNEMONIC,
               "--block-base-fee-per-gas", "0", "--gas-limit", "60000000", "--silent"]
        if self.code_size_limit:
            cmd += ["--code-size-limit", str(self.code_size_limit)]
        return cmd


class Redis(ServiceProcess):
    """A throwaway Redis: loopback only, no persistence, ``DATABASES`` numbered dbs.

    Tests give each world its own db (``/1``, ``/2``, …); Redis's default of 16 would run out
    in one suite, and a node on a db past the last one cannot use its broker.
    """

    name = "redis"
    DATABASES = 1024

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        return [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--protected-mode", "yes",
                "--databases", str(self.DATABASES)]


def dev_private_keys(n: int) -> list[str]:
    """The first n private keys of Anvil's dev mnemonic (funded on a dev chain only)."""
    from eth_account import Account

    Account.enable_unaudited_hdwallet_features()
    return [
        Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}").key.to_0x_hex()
        for i in range(n)
    ]


__all__ = ["Anvil", "Redis", "free_port", "wait_for_port", "dev_private_keys", "DEV_MNEMONIC"]
