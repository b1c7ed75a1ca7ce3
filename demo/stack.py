"""The demo's local deployment: Anvil, Redis, the contracts with the real ezkl verifier, the API
(dev mode) and worker nodes, each a real child process stopped by its own pid.

``DemoStack`` is used by ``make demo`` (on the project's ports) and by the end-to-end tests
(on free ports, in a temporary folder): what the tests check is what the demo runs.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from zkpot.config import PROJECT_ROOT, Settings
from zkpot.devnet import Anvil, Redis, dev_private_keys, wait_for_port

# Anvil's dev keys: 0 deploys the contracts and is the employer; 1..NODE_KEYS are the nodes;
# the ones after them take part in the federated round
KEYS = dev_private_keys(10)
EMPLOYER_KEY = KEYS[0]
NODE_KEYS = KEYS[1:4]
FEDERATION_KEYS = KEYS[4:]


class PortInUse(RuntimeError):
    """A port the demo needs is taken (the message says which and how to change it)."""


def port_is_free(port: int) -> bool:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def check_ports(ports: dict[str, tuple[int, str]]) -> None:
    """Raise ``PortInUse`` naming every port of ``{service: (port, variable)}`` that is taken."""
    taken = [f"{name} port {port} is in use (set {var} to another port)"
             for name, (port, var) in ports.items() if not port_is_free(port)]
    if taken:
        raise PortInUse("; ".join(taken) + ". Is another zkpot demo still running?")


@dataclass(frozen=True)
class CircuitChoice:
    """The accuracy circuit jobs of the demo are proven with: a spec preset over shards of N."""

    preset: str = "digits-mlp"
    shard_size: int = 32


@dataclass
class DemoNode:
    index: int
    address: str
    settings: Settings
    group: object  # workers.group.WorkerGroup

    @property
    def name(self) -> str:
        return f"node-{self.index}"


@dataclass
class DemoStack:
    """Everything the demo starts, under ``root`` (wiped first: a fresh chain needs fresh state)."""

    root: Path
    circuit_dir: Path
    anvil_port: int
    redis_port: int
    api_port: int
    circuit: CircuitChoice = field(default_factory=CircuitChoice)
    nodes: int = 3
    say: Callable[[str], None] = print
    anvil: Anvil | None = None
    redis: Redis | None = None
    api_proc: subprocess.Popen | None = None
    running: list[DemoNode] = field(default_factory=list)
    deployment: object = None
    circuit_created: bool = False
    circuit_seconds: float = 0.0

    # ---- addresses and settings -----------------------------------------------------------
    @property
    def rpc_url(self) -> str:
        return f"http://127.0.0.1:{self.anvil_port}"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def env(self, state_dir: Path, **extra: str) -> dict[str, str]:
        """``ZKPOT_*`` values shared by every process of the stack."""
        values = dict(rpc_url=self.rpc_url, redis_url=self.redis_url, state_dir=str(state_dir),
                      storage_dir=str(self.root / "store"), circuit_dir=str(self.circuit_dir),
                      deployment_file=str(self.root / "deployment.json"), api_port=str(self.api_port),
                      **extra)
        return {f"ZKPOT_{k.upper()}": v for k, v in values.items()}

    def settings(self, state_dir: Path | None = None, **extra: str) -> Settings:
        return Settings.from_env(environ=self.env(state_dir or self.root, **extra))

    def check_ports(self) -> None:
        check_ports({"Anvil": (self.anvil_port, "ZKPOT_ANVIL_PORT"),
                     "Redis": (self.redis_port, "ZKPOT_REDIS_PORT"),
                     "API": (self.api_port, "ZKPOT_API_PORT")})

    # ---- start ----------------------------------------------------------------------------
    def start(self) -> "DemoStack":
        self.check_ports()
        if self.root.exists():
            shutil.rmtree(self.root)
        self.logs.mkdir(parents=True)
        self.anvil = Anvil(port=self.anvil_port, log_dir=self.logs).start()
        self.redis = Redis(port=self.redis_port, log_dir=self.logs).start()
        self.say(f"chain  {self.rpc_url} (Anvil)   redis {self.redis_url}")
        self.deploy()
        self.start_api()
        for i, key in enumerate(NODE_KEYS[: self.nodes], 1):
            self.start_node(i, key)
        return self

    def employer_client(self):
        from zkpot.chain import ChainClient

        return ChainClient(self.rpc_url, EMPLOYER_KEY, lock_dir=self.settings().path("locks"))

    def deploy(self) -> None:
        """JobEscrow (+ NodeRegistry), then ezkl's verifier and the demo circuit's adapter."""
        from zkpot.chain import Deployment, deploy_all
        from zkpot.zk.evm import ADAPTER_NAME, deploy_verifier_contracts, verifier_record
        from zkpot.zk.presets import preset_circuit

        client = self.employer_client()
        path = self.root / "deployment.json"
        self.deployment = deploy_all(client, path=path)
        self.say(f"deployed JobEscrow {self.deployment.escrow}, NodeRegistry {self.deployment.registry}")
        self.say(f"zk circuit for {self.circuit.preset} over shards of {self.circuit.shard_size} "
                 f"(cache {self.circuit_dir}): the first run sets it up once (proving key and a "
                 "local SRS, under a minute on 2 cores); later runs reuse it")
        started = time.monotonic()
        circuit = preset_circuit(self.circuit.preset, self.circuit.shard_size, self.settings())
        self.circuit_created, self.circuit_seconds = circuit.created, time.monotonic() - started
        contracts = deploy_verifier_contracts(client, circuit)
        adapter = contracts[ADAPTER_NAME]
        halo2 = next(a for name, a in contracts.items() if name != ADAPTER_NAME)
        Deployment(chain_id=client.chain_id, block=client.block_number(), contracts=contracts,
                   verifiers={adapter: verifier_record(client, adapter, circuit)}).save(path)
        self.deployment = Deployment.from_json(path.read_text())
        self.say(f"deployed ezkl verifier {halo2} and EzklAccuracyVerifier {adapter} "
                 f"(circuit {circuit.key}, 2^{circuit.logrows} rows"
                 + (f", set up in {self.circuit_seconds:.0f} s)" if circuit.created else ", cached)"))

    def start_api(self) -> None:
        """uvicorn serving the API and the built dashboard; dev mode signs as the employer."""
        env = dict(os.environ, **self.env(self.root, employer_key=EMPLOYER_KEY), PYTHONPATH=str(PROJECT_ROOT))
        log = open(self.logs / "api.log", "ab")
        self.api_proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1",
             "--port", str(self.api_port), "--log-level", "warning"],
            cwd=str(PROJECT_ROOT), env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        wait_for_port(self.api_port, timeout=60, proc=self.api_proc)
        self.say(f"API    {self.api_url} (dev mode: it signs as the employer)")

    def start_node(self, index: int, key: str) -> DemoNode:
        """Register node ``index`` with the minimum stake and start its Celery worker processes."""
        from workers.group import WorkerGroup
        from workers.queues import NodeQueues
        from zkpot.node.work import Node

        state = self.root / f"node{index}"
        settings = self.settings(state, node_key=key)
        node = Node(settings)
        node.register(None)
        # one torch thread per worker: three nodes share the machine's cores
        env = dict(os.environ, **self.env(state, node_key=key), PYTHONPATH=str(PROJECT_ROOT),
                   OMP_NUM_THREADS="1")
        group = WorkerGroup(NodeQueues(node.identity.slug), settings.path("logs"), env=env).start()
        running = DemoNode(index, node.identity.address, settings, group)
        self.running.append(running)
        self.say(f"node-{index} {node.identity.address}: staked {_eth(node.chain.registry.stake_of(node.identity.address))}"
                 f" ETH, workers started (logs {settings.path('logs')})")
        return running

    # ---- stop -----------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop every process this stack started (workers, API, Redis, Anvil), by pid."""
        from concurrent.futures import ThreadPoolExecutor

        # in parallel: a busy worker gets its warm-shutdown grace without holding up the others
        with ThreadPoolExecutor(max(1, len(self.running))) as pool:
            list(pool.map(lambda node: node.group.stop(), self.running))
        self.running.clear()
        if self.api_proc is not None and self.api_proc.poll() is None:
            self.api_proc.terminate()
            try:
                self.api_proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.api_proc.kill()
                self.api_proc.wait()
        for service in (self.redis, self.anvil):
            if service is not None:
                service.stop()

    def __enter__(self) -> "DemoStack":
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()

    def node_logs(self) -> list[Path]:
        out = [self.logs / "api.log"]
        for node in self.running:
            out += sorted(node.settings.path("logs").glob("node-*"))
        return out


def _eth(wei: int) -> str:
    return f"{wei / 10**18:.4f}".rstrip("0").rstrip(".")
