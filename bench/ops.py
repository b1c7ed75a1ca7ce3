"""Node operations: how fast a node recovers a lost worker, how much an outage writes to its log.

On free ports, a real Anvil (mock verifier deployment), Redis and one node's real Celery
workers (``workers.group``, what ``zkpot node run`` starts), running the worker tests' tiny
job (``tests/workers/jobs.py``) with C = 1 and 1,500 samples in stage 1:

- ``node_recovery_s``: the node's compute worker SIGKILLed mid-training and started again at
  once (``zkpot node run`` restarts a dead worker within a second) → the node's
  ``StageDeclared`` for that stage (median of the runs; the stage is trained again from S_0).
  ``node_stage_s`` is the same stage without a kill (first progress → declaration), so the
  recovery's own cost is the difference.
- ``outage_log_lines_per_s``: Redis stopped for ``OUTAGE_S`` during stage 2 and started again;
  every line the node's log files gained from the stop until each process logged the end of
  the outage, divided by ``OUTAGE_S``.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from workers.group import WorkerGroup, worker_env
from workers.queues import NodeQueues
from zkpot.chain import ChainClient, JobEscrowClient, deploy_all, fetch_events
from zkpot.config import PROJECT_ROOT, Settings
from zkpot.devnet import Anvil, Redis, dev_private_keys
from zkpot.node.work import Node
from zkpot.storage import LocalStore

OUTAGE_S = 20.0
KEYS = dev_private_keys(3)


def _wait(predicate, timeout: float, what: str, every: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise TimeoutError(f"gave up waiting for {what}")


class _Node:
    def __init__(self, root: Path, anvil: Anvil, redis_url: str, deployment, index: int):
        self.env = dict(rpc_url=anvil.rpc_url, redis_url=redis_url, state_dir=str(root / f"node{index}"),
                        storage_dir=str(root / "store"), deployment_file=str(root / "deployment.json"),
                        circuit_dir=str(root / "circuits"), node_key=KEYS[index])
        self.settings = Settings.from_env(environ={}, **self.env)
        self.node = Node(self.settings)
        self.node.register(None)
        env = worker_env(**self.env)
        env["PYTHONPATH"] = str(PROJECT_ROOT)
        self.group = WorkerGroup(NodeQueues(self.node.identity.slug), self.settings.path("logs"), env=env)

    def logs(self) -> list[Path]:
        return sorted(self.group.log_dir.glob("node-*.log")) + sorted(self.group.log_dir.glob("*.err"))


def _declared_at(escrow: JobEscrowClient, deployment, job_id: int, stage: int, node: str) -> bool:
    return any(e["jobId"] == job_id and e["stage"] == stage and e["node"] == node
               for e in fetch_events(escrow.client, deployment, names=["StageDeclared"]))


def run(ctx) -> dict:
    from tests.workers.jobs import create_tiny_job

    root = ctx.work_dir / "ops"
    root.mkdir(parents=True, exist_ok=True)
    runs = 1 if ctx.quick else 3
    with Anvil(log_dir=root) as anvil, Redis(log_dir=root) as redis:
        client = ChainClient(anvil.rpc_url, KEYS[0])
        deployment = deploy_all(client, mock_verifier=True, path=root / "deployment.json")
        escrow = JobEscrowClient(client, deployment.escrow)
        store = LocalStore(root / "store")
        n = _Node(root, anvil, redis.url, deployment, 1)
        n.group.start()
        try:
            def job(stages: int = 1):
                return create_tiny_job(anvil.rpc_url, KEYS[0], deployment, store, stages=stages,
                                       confirmations=1, samples_per_stage=1500)

            def training(job_id: int, stage: int) -> bool:
                return any(p.kind == "train" and p.name == f"job{job_id}-stage{stage}"
                           for p in n.node.store.progress())

            me = n.node.identity.address
            # a stage without a kill, for comparison
            j = job()
            _wait(lambda: training(j.job_id, 1), 180, "training")
            t0 = time.monotonic()
            _wait(lambda: _declared_at(escrow, deployment, j.job_id, 1, me), 300, "declaration", 0.1)
            stage_s = time.monotonic() - t0

            recoveries = []
            for _ in range(runs):
                j = job()
                _wait(lambda: training(j.job_id, 1), 180, "training")
                time.sleep(0.5)                  # mid-stage
                killed = time.monotonic()
                n.group.kill("compute0")
                n.group.start("compute0")
                _wait(lambda: _declared_at(escrow, deployment, j.job_id, 1, me), 600, "declaration", 0.1)
                recoveries.append(time.monotonic() - killed)

            # Redis down for OUTAGE_S during a stage
            j = job(stages=2)
            _wait(lambda: _declared_at(escrow, deployment, j.job_id, 1, me), 300, "stage 1", 0.1)
            _wait(lambda: training(j.job_id, 2), 300, "stage 2 training")
            sizes = {p: p.stat().st_size for p in n.logs()}
            redis.stop()
            time.sleep(OUTAGE_S)
            redis.start()

            def lines() -> list[str]:
                out = []
                for p in n.logs():
                    with open(p, "rb") as f:
                        f.seek(sizes.get(p, 0))
                        out += f.read().decode(errors="replace").splitlines()
                return out

            # every process that logged the outage's start logs its end
            def ended() -> bool:
                text = lines()
                return sum("unreachable:" in t and "redis" in t for t in text) == \
                    sum("redis reachable again" in t for t in text)
            _wait(ended, 120, "the outage's end in the log", 0.5)
            _wait(lambda: _declared_at(escrow, deployment, j.job_id, 2, me), 300, "stage 2", 0.1)
            outage_lines = len(lines())
        finally:
            n.group.stop()
    ctx.notes["node_recovery_s"] = (f"median of {runs}: " + ", ".join(f"{r:.1f}" for r in recoveries)
                                    + f" s; the same stage without a kill: {stage_s:.1f} s")
    return {"node_recovery_s": round(statistics.median(recoveries), 2),
            "node_stage_s": round(stage_s, 2),
            "outage_log_lines_per_s": round(outage_lines / OUTAGE_S, 3),
            "outage_log_lines": outage_lines}
