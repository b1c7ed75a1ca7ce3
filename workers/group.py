"""A node's worker process group: one chain worker (watcher + transactions), compute workers
(training) and one prove worker (zk proofs; it never trains, so it never loads torch).

``zkpot node run`` and the integration tests start nodes through this, so what is tested is
what operators run. Each process is a real ``celery worker`` started in its own session and
stopped by its own pid.
"""

from __future__ import annotations

import ctypes
import functools
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from workers.queues import NodeQueues


@dataclass
class WorkerSpec:
    role: str                 # "chain", "compute<i>" or "prove"
    queues: list[str]
    hostname: str
    logfile: Path
    beat_schedule: Path | None = None   # the chain worker also runs the watcher's beat

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "celery", "-A", "workers.app", "worker",
               "-Q", ",".join(self.queues), "-n", self.hostname,
               # one task at a time per process: the chain worker is the identity's one sender,
               # a compute worker is one training slot, the prove worker one proof at a time
               "--pool", "solo", "--loglevel", "INFO", "--logfile", str(self.logfile),
               "--without-gossip", "--without-mingle"]
        if self.beat_schedule is not None:
            cmd += ["--beat", "--schedule", str(self.beat_schedule)]
        return cmd


@dataclass
class WorkerGroup:
    """The processes serving one node identity."""

    queues: NodeQueues
    log_dir: Path
    env: dict[str, str]
    device: str = "cpu"
    compute_slots: int = 1
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    def specs(self) -> list[WorkerSpec]:
        name = self.queues.slug[:10]
        self.log_dir.mkdir(parents=True, exist_ok=True)
        specs = [WorkerSpec("chain", self.queues.worker_queues("chain"), f"chain@{name}",
                            self.log_dir / f"node-{name}-chain.log",
                            beat_schedule=self.log_dir / f"beat-{name}")]
        for i in range(self.compute_slots):
            specs.append(WorkerSpec(f"compute{i}",
                                    self.queues.worker_queues("compute", self.device),
                                    f"compute{i}@{name}",
                                    self.log_dir / f"node-{name}-compute{i}.log"))
        specs.append(WorkerSpec("prove", self.queues.worker_queues("prove"), f"prove@{name}",
                                self.log_dir / f"node-{name}-prove.log"))
        return specs

    def start(self, role: str | None = None) -> "WorkerGroup":
        """Start every worker (or only ``role``) that is not already running."""
        for spec in self.specs():
            if role is not None and spec.role != role:
                continue
            if spec.role in self.procs and self.procs[spec.role].poll() is None:
                continue
            env = dict(self.env, ZKPOT_WORKER_ROLE=spec.role, ZKPOT_WORKER_DEVICE=self.device)
            self.procs[spec.role] = subprocess.Popen(
                spec.command(), env=env, cwd=str(Path(__file__).resolve().parent.parent),
                stdout=subprocess.DEVNULL, stderr=open(spec.logfile.with_suffix(".err"), "ab"),
                start_new_session=True, preexec_fn=functools.partial(_die_with_parent, os.getpid()),
            )
        return self

    def pid(self, role: str) -> int:
        return self.procs[role].pid

    def kill(self, role: str) -> None:
        """SIGKILL one worker (a crash, for fault tests)."""
        proc = self.procs.pop(role)
        # the worker leads its own process group (its embedded beat is a child): kill them all
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def stop(self, grace: float = 30.0) -> None:
        """Stop every worker within ``grace`` seconds (then a few more), leaving none behind.

        SIGTERM first: Celery's warm shutdown finishes the task in flight. A worker still busy
        after ``grace`` gets SIGQUIT (cold shutdown: the task is abandoned and its unacked
        message goes back to the queue; the watcher would re-derive it anyway), and after
        ``COLD_GRACE`` more its whole process group is SIGKILLed."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in self.procs.values():
            _wait(proc, deadline)
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGQUIT)
        deadline = time.monotonic() + COLD_GRACE
        for proc in self.procs.values():
            if not _wait(proc, deadline):
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            try:  # leftovers of the group (the beat child) go with their worker
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self.procs.clear()

    def alive(self) -> dict[str, bool]:
        return {role: p.poll() is None for role, p in self.procs.items()}


# seconds a worker gets after SIGQUIT (cold shutdown) before its process group is killed
COLD_GRACE = 5.0


def _wait(proc: subprocess.Popen, deadline: float) -> bool:
    try:
        proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        return True
    except subprocess.TimeoutExpired:
        return False


def _die_with_parent(parent: int) -> None:
    """In the child: SIGTERM it when the process that started it dies (even by SIGKILL), so a
    worker never outlives its ``zkpot node run`` (Linux; elsewhere a no-op)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:   # the parent died before the line above
        os.kill(os.getpid(), signal.SIGTERM)


def worker_env(base: dict[str, str] | None = None, **zkpot: str) -> dict[str, str]:
    """An environment for a node's workers: ``base`` plus ``ZKPOT_<NAME>`` values."""
    env = dict(os.environ if base is None else base)
    for name, value in zkpot.items():
        env[f"ZKPOT_{name.upper()}"] = str(value)
    return env
