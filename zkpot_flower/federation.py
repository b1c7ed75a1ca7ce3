"""A federation on Flower's simulation engine, on a non-IID split of the bundled digits set,
with attackers and free-riders among honest participants: zkpot's strategy on a real chain
(real proofs, the real verifier, the FederatedTask contract) and, on the same split and the
same participants, Flower's own FedAvg and robust strategies (FedMedian, Krum) without proofs.

Used by ``zkpot fl demo``, the tests and ``bench/federated.py``. Each zkpot round keeps its
phases on chain time; ``clock`` (the strategy's) waits them out, or moves a development
chain's clock over their idle rest (``DevChainClock``). Only the strategy moves time.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import torch
from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import FedAvg, FedMedian, Krum
from flwr.simulation import run_simulation

from zkpot.chain.client import ChainClient
from zkpot.chain.clock import ChainClock, LiveChainClock
from zkpot.config import Settings
from zkpot.datasets import Dataset, demo_dataset
from zkpot.federated.employer import Employer, accuracy
from zkpot.federated.local import Behaviour, LocalTraining, make_update, train_fn
from zkpot.federated.split import dirichlet_split
from zkpot.spec import ModelSpec, build_model
from zkpot.storage import LocalStore, Store, open_store
from zkpot_flower.client import NodeConfig, zkpot_client
from zkpot_flower.records import from_arrays, to_arrays
from zkpot_flower.server import TaskTerms, create_task
from zkpot_flower.strategy import RoundReport, ZkpotStrategy

FEATURES, CLASSES = 64, 10
ATTACKERS = (Behaviour.label_flip, Behaviour.random_weights, Behaviour.constant_output,
             Behaviour.free_rider, Behaviour.sybil_copy, Behaviour.sybil_copy)


@dataclass(frozen=True)
class FederationConfig:
    participants: int = 8
    attackers: tuple[Behaviour, ...] = ATTACKERS  # the last participants; the rest are honest
    rounds: int = 3
    alpha: float = 0.5               # Dirichlet label skew of the split (smaller: more skew)
    test_size: int = 32              # the task's test set: one shard, one proof per update
    threshold_fraction: float = 0.3  # θ as a fraction of the test set
    min_improvement: int = 1         # samples an update must gain over the global model
    hidden: int = 8
    training: LocalTraining = field(default_factory=lambda: LocalTraining(epochs=5, lr=0.05))
    eval_size: int = 400
    reward_per_update: int = 10**15
    seed: int = 0
    commit_window_s: int = 1800      # wide: DevChainClock skips the idle rest
    reveal_window_s: int = 300
    deadline_s: int = 7 * 24 * 3600

    @property
    def behaviours(self) -> list[Behaviour]:
        honest = self.participants - len(self.attackers)
        if honest < 1:
            raise ValueError("a federation needs at least one honest participant")
        return [Behaviour.honest] * honest + list(self.attackers)

    @property
    def threshold(self) -> int:
        return max(1, int(np.ceil(self.threshold_fraction * self.test_size)))

    def spec(self) -> ModelSpec:
        return ModelSpec.from_json({
            "layers": [{"type": "Linear", "in_features": FEATURES, "out_features": self.hidden},
                       {"type": "ReLU"},
                       {"type": "Linear", "in_features": self.hidden, "out_features": CLASSES}],
            "optimizer": {"type": "sgd", "lr": self.training.lr}, "batch_size": self.training.batch_size,
            "epochs": self.training.epochs, "seed": self.seed})

    def factory(self):
        spec = self.spec()
        return lambda: build_model(spec)

    def initial_state(self) -> dict[str, torch.Tensor]:
        torch.manual_seed(self.seed)
        return build_model(self.spec()).state_dict()

    def local_training(self, partition: int, round_: int) -> LocalTraining:
        t = self.training
        return LocalTraining(t.epochs, t.lr, t.batch_size, seed=self.seed + 17 * partition + 1000 * round_)


@dataclass
class FederationData:
    test: Dataset            # the task's public test set
    evaluation: Dataset      # held out from everyone, for the report
    private: list[Dataset]   # each participant's own data


@lru_cache(maxsize=4)
def make_data(config: FederationConfig) -> FederationData:
    """Seeded: the test set, an evaluation set, and a Dirichlet non-IID split of the rest."""
    ds = demo_dataset("digits")
    order = np.random.default_rng(config.seed).permutation(len(ds))
    test, evaluation = order[:config.test_size], order[config.test_size:config.test_size + config.eval_size]
    pool = order[config.test_size + config.eval_size:]
    parts = dirichlet_split(ds.labels[pool], config.participants, config.alpha, config.seed)
    return FederationData(test=ds.subset(test), evaluation=ds.subset(evaluation),
                          private=[ds.subset(pool[p]) for p in parts])


def _partition(context: Context) -> int:
    return int(context.node_config["partition-id"])


def _train_for(config: FederationConfig, partition: int, round_: int):
    own = make_data(config).private[partition]
    return train_fn(config.behaviours[partition], config.factory(), own.features, own.labels, CLASSES,
                    config.local_training(partition, round_))


BACKEND = {"client_resources": {"num_cpus": 1, "num_gpus": 0.0},
           "init_args": {"num_cpus": 2, "include_dashboard": False, "logging_level": logging.ERROR,
                         "object_store_memory": 256 * 1024 * 1024}}


@dataclass
class FederationReport:
    config: FederationConfig
    task_id: int
    rounds: list[RoundReport]
    accuracy: list[float]             # held-out accuracy of the global model after each round
    initial_accuracy: float
    credits: dict[str, int]           # participant address -> wei credited
    labels: dict[str, Behaviour]      # participant address -> behaviour
    seconds: float
    employer: Employer = field(repr=False)
    data: FederationData = field(repr=False)

    def paid(self, *behaviours: Behaviour) -> list[int]:
        return [c for who, c in self.credits.items() if self.labels[who] in behaviours]

    def summary(self) -> str:
        lines = [f"θ = {self.config.threshold}/{self.config.test_size}, margin {self.config.min_improvement} "
                 f"over the global model's certified count"]
        for rep in self.rounds:
            for o in sorted(rep.outcomes, key=lambda o: o["label"]):
                state = "accepted" if o["accepted"] else f"refused ({o['refusal'] or 'no commitment'})"
                gas = f", submitUpdate gas {o['gas']}" if o["gas"] else ""
                lines.append(f"round {rep.round} {o['label']:16} proven {o['proven']:3d} step {o['step']:.3g} "
                             f"{state}, paid {o['reward']} wei{gas}")
            lines += [f"round {rep.round} FAILED {f}" for f in rep.failures]
            res = rep.result
            kept = "" if res.regressed is None else f" (the aggregate proved {res.regressed}: the previous kept)"
            lines.append(f"round {rep.round}: aggregated {len(res.aggregated)} of {len(res.reviewed)} accepted, "
                         f"global model certified {res.model_correct}{kept}, held-out {self.accuracy[rep.round]:.3f}, "
                         f"{rep.seconds:.0f} s")
        for b in sorted(set(self.labels.values()), key=lambda b: b.value):
            lines.append(f"paid to {b.value}: {sum(self.paid(b))} wei")
        return "\n".join(lines)


def _address(key: str) -> str:
    from eth_account import Account

    return Account.from_key(key).address


def run_zkpot(config: FederationConfig, settings: Settings, rpc_url: str, private_keys: list[str],
              store: Store | None = None, clock: ChainClock | None = None) -> FederationReport:
    """Deploy, create the task, run every round as a Flower round with ZkpotStrategy.

    ``private_keys``: the employer's, then one per participant (partition i signs with key
    i + 1).
    """
    if len(private_keys) < config.participants + 1:
        raise ValueError("need one key for the employer and one per participant")
    started = time.monotonic()
    store = store or open_store(settings)
    data, factory = make_data(config), config.factory()
    chain = ChainClient(rpc_url, private_keys[0], lock_dir=settings.path("locks"))
    clock = clock or LiveChainClock(chain)
    start = config.initial_state()
    terms = TaskTerms(rounds=config.rounds, max_updates_per_round=config.participants, threshold=config.threshold,
                      min_improvement=config.min_improvement, reward_per_update=config.reward_per_update,
                      commit_window=config.commit_window_s, reveal_window=config.reveal_window_s,
                      deadline_s=config.deadline_s)
    employer, task_id = create_task(chain, store, settings, config.spec(), data.test, start, terms, clock)
    tasks = employer.task_client
    strategy = ZkpotStrategy(employer, task_id, clock, fraction_train=1.0, min_train_nodes=config.participants,
                             min_available_nodes=config.participants)
    server = ServerApp()

    @server.main()
    def main(grid: Grid, context: Context) -> None:
        strategy.start(grid, to_arrays(start), num_rounds=config.rounds, timeout=3600)

    keys = tuple(private_keys[1:config.participants + 1])
    # the participants read the task from the store the employer wrote it to
    where = dict(rpc_url=rpc_url, state_dir=str(settings.state_dir), circuit_dir=str(settings.circuits_dir),
                 storage_dir=str(store.root) if isinstance(store, LocalStore) else None)
    honest = NodeConfig(**where, partition_keys=keys)
    # attackers submit what they made as it is, and submit it even when the rule pays nothing
    attacker = NodeConfig(**where, partition_keys=keys, steps=(1.0,), submit_unpaid=True)
    behaviours = config.behaviours
    client = zkpot_client(
        ClientApp(),
        train=lambda state, cfg, ctx: _train_for(config, _partition(ctx), int(cfg["server-round"]) - 1)(state),
        config=lambda ctx: honest if behaviours[_partition(ctx)].trains else attacker,
        label=lambda ctx: f"{behaviours[_partition(ctx)].value}-{_partition(ctx)}")
    run_simulation(server, client, num_supernodes=config.participants, backend_config=BACKEND)

    X, y = data.evaluation.features, data.evaluation.labels
    labels = {_address(private_keys[i + 1]): b for i, b in enumerate(behaviours)}
    return FederationReport(
        config=config, task_id=task_id, rounds=strategy.reports,
        accuracy=[accuracy(factory, r.result.state, X, y) for r in strategy.reports],
        initial_accuracy=accuracy(factory, start, X, y),
        credits={who: tasks.credit_of(who) for who in labels}, labels=labels,
        seconds=time.monotonic() - started, employer=employer, data=data)


def run_flower(config: FederationConfig, strategy: str) -> list[float]:
    """Flower's own ``strategy`` (fedavg, fedmedian, krum) on the same split and participants,
    without proofs: every update aggregated (Krum: the one nearest the others). Returns the
    held-out accuracy after each round."""
    data, factory = make_data(config), config.factory()
    X, y = data.evaluation.features, data.evaluation.labels
    accuracies: list[float] = []
    common = dict(fraction_evaluate=0.0, min_train_nodes=config.participants, min_available_nodes=config.participants)
    malicious = len(config.attackers)
    chosen = {"fedavg": lambda: FedAvg(**common), "fedmedian": lambda: FedMedian(**common),
              "krum": lambda: Krum(num_malicious_nodes=malicious, **common)}[strategy]()
    server = ServerApp()

    def evaluate(round_: int, arrays: ArrayRecord) -> MetricRecord:
        if round_ > 0:
            accuracies.append(accuracy(factory, from_arrays(arrays), X, y))
        return MetricRecord({"accuracy": accuracies[-1] if accuracies else 0.0})

    @server.main()
    def main(grid: Grid, context: Context) -> None:
        chosen.start(grid, to_arrays(config.initial_state()), num_rounds=config.rounds, timeout=3600,
                     evaluate_fn=evaluate)

    client = ClientApp()

    @client.train()
    def train(msg: Message, context: Context) -> Message:
        partition = _partition(context)
        round_ = int(msg.content["config"]["server-round"]) - 1
        own = data.private[partition]
        update = make_update(config.behaviours[partition], factory, from_arrays(msg.content["arrays"]),
                             own.features, own.labels, CLASSES, config.local_training(partition, round_))
        return Message(RecordDict({"arrays": to_arrays(update),
                                   "metrics": MetricRecord({"num-examples": len(own)})}), reply_to=msg)

    run_simulation(server, client, num_supernodes=config.participants, backend_config=BACKEND)
    return accuracies
