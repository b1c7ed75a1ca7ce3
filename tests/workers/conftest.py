"""Fixtures for the worker tests: a fresh deployment, a shared store, real node process groups.

Each node has its own key, stake, state folder and Celery worker processes (a chain worker
with the watcher's beat, and a compute worker), started as real ``celery worker`` processes
through ``workers.group`` — what ``zkpot node run`` starts — and stopped by pid.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from workers.group import WorkerGroup, worker_env
from workers.queues import NodeQueues
from zkpot.chain import ChainClient, JobEscrowClient, StagePhase, deploy_all
from zkpot.config import PROJECT_ROOT, Settings
from zkpot.chain.clock import DevChainClock
from zkpot.devnet import Redis, dev_private_keys
from zkpot.node.work import Node
from zkpot.storage import LocalStore

_redis_dbs = itertools.count(1)
KEYS = dev_private_keys(8)  # 0: deployer and employer, 1..: nodes


@dataclass
class World:
    """One test's deployment and what its nodes share (chain, Redis, storage, circuits)."""

    rpc_url: str
    redis_url: str
    root: Path
    deployment: object
    circuit_dir: Path
    node_rpc_url: str | None = None  # what the nodes use (e.g. through a flaky proxy)
    report_url: str = "off"          # the gateway nodes report given-up steps to (none here)

    @property
    def store(self) -> LocalStore:
        return LocalStore(self.root / "store")

    def env(self, index: int) -> dict[str, str]:
        return dict(rpc_url=self.node_rpc_url or self.rpc_url, redis_url=self.redis_url,
                    state_dir=str(self.root / f"node{index}"),
                    storage_dir=str(self.root / "store"),
                    deployment_file=str(self.root / "deployment.json"),
                    circuit_dir=str(self.circuit_dir),
                    node_key=KEYS[index], node_report_url=self.report_url)

    def settings(self, index: int) -> Settings:
        return Settings.from_env(environ={}, **self.env(index))

    def escrow(self, key_index: int = 0) -> JobEscrowClient:
        return JobEscrowClient(ChainClient(self.rpc_url, KEYS[key_index]), self.deployment.escrow)


@pytest.fixture
def world(anvil, redis_server, tmp_path_factory, circuit_cache) -> World:
    root = tmp_path_factory.mktemp("world")
    client = ChainClient(anvil.rpc_url, KEYS[0])
    deployment = deploy_all(client, mock_verifier=True, path=root / "deployment.json")
    # a fresh Redis db per test keeps queues apart without restarting the server
    db = next(_redis_dbs)
    assert db < Redis.DATABASES, f"the test Redis has {Redis.DATABASES} dbs; world {db} has none"
    return World(anvil.rpc_url, redis_server.url.rsplit("/", 1)[0] + f"/{db}", root, deployment,
                 circuit_dir=circuit_cache)


@dataclass
class RunningNode:
    index: int
    node: Node
    group: WorkerGroup

    @property
    def address(self) -> str:
        return self.node.identity.address


@pytest.fixture
def start_node(world):
    """start_node(i) registers dev key i with the minimum stake and starts its workers."""
    started: list[RunningNode] = []

    def start(index: int, register: bool = True, workers: bool = True) -> RunningNode:
        settings = world.settings(index)
        node = Node(settings)
        if register:
            node.register(None)
        env = worker_env(**world.env(index))
        env["PYTHONPATH"] = str(PROJECT_ROOT)
        group = WorkerGroup(NodeQueues(node.identity.slug), settings.path("logs"), env=env)
        running = RunningNode(index, node, group)
        if workers:
            group.start()
        started.append(running)
        return running

    yield start
    for running in started:
        running.group.stop()


def wait_for(predicate, timeout: float, what: str, every: float = 0.5, logs: list[Path] = ()):
    """Poll until ``predicate()`` is truthy; fail with the node logs' tails otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    tails = "\n".join(f"--- {p}\n" + "\n".join(p.read_text(errors="replace").splitlines()[-25:])
                      for p in logs if p.exists())
    pytest.fail(f"gave up waiting for {what}\n{tails}")


def wait_for_stages(world: World, job, done: int, declarers: int, timeout: float, logs: list[Path] = ()):
    """Wait until ``done`` of the job's stages are final. Whenever ``declarers`` declarations
    (every node the test runs) are in an attempt's commit phase, its commit window is let pass
    by moving the dev chain's clock, instead of waiting it out in real time (the phase closes by
    count only at 2C - 1 declarations)."""
    escrow = world.escrow()

    def step():
        view = escrow.get_job(job.job_id)
        if view.stages_done >= done:
            return view
        a = escrow.attempt_of(job.job_id)
        if a.phase == StagePhase.COMMIT and a.declarations >= declarers:
            DevChainClock(escrow.client).wait_until(a.commit_deadline)
        return None

    return wait_for(step, timeout, f"{done} stages final", logs=logs)


def node_logs(*nodes: RunningNode) -> list[Path]:
    out = []
    for n in nodes:
        out += sorted(n.group.log_dir.glob("node-*.log")) + sorted(n.group.log_dir.glob("*.err"))
    return out
