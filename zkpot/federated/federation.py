"""A demo federation on a non-IID split of the bundled digits set, with Byzantine members.

Runs a real FederatedTask on a chain (real proofs, real verifier) next to plain FedAvg over
the same participants without proofs, and reports both global models' accuracy on held-out
data: the attackers (one flips labels, one sends random weights) poison plain FedAvg, while
in zkpot their updates cannot reach θ and are never aggregated.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from zkpot import zk
from zkpot.chain.client import ChainClient
from zkpot.config import Settings
from zkpot.datasets import Dataset, demo_dataset
from zkpot.federated.chain import FederatedTaskClient
from zkpot.federated.crypto import EncryptionKeyPair
from zkpot.federated.employer import Employer, RoundResult, accuracy
from zkpot.federated.fedavg import fedavg
from zkpot.federated.local import Behaviour, LocalTraining, make_update
from zkpot.federated.participant import Participant, RoundOutcome
from zkpot.federated.split import dirichlet_split
from zkpot.spec import ModelSpec, build_model
from zkpot.storage import Store, open_store
from zkpot.zk.evm import deploy_accuracy_verifier

FEATURES, CLASSES = 64, 10


@dataclass(frozen=True)
class FederationConfig:
    participants: int = 4
    attackers: tuple[Behaviour, ...] = (Behaviour.label_flip, Behaviour.random_weights)
    rounds: int = 2
    alpha: float = 1.0               # Dirichlet label skew of the split (smaller: more skew)
    shard_size: int = 16             # the circuit's N
    shards: int = 2                  # test set = shards * shard_size samples
    threshold_fraction: float = 0.4  # θ as a fraction of the test set
    hidden: int = 8
    training: LocalTraining = field(default_factory=lambda: LocalTraining(epochs=5, lr=0.05))
    eval_size: int = 400
    reward_per_update: int = 10**15
    seed: int = 0

    @property
    def behaviours(self) -> list[Behaviour]:
        honest = self.participants - len(self.attackers)
        if honest < 1:
            raise ValueError("a federation needs at least one honest participant")
        return [Behaviour.honest] * honest + list(self.attackers)

    @property
    def threshold(self) -> int:
        return max(1, int(np.ceil(self.threshold_fraction * self.shards * self.shard_size)))

    def spec(self) -> ModelSpec:
        return ModelSpec.from_json({
            "layers": [{"type": "Linear", "in_features": FEATURES, "out_features": self.hidden},
                       {"type": "ReLU"},
                       {"type": "Linear", "in_features": self.hidden, "out_features": CLASSES}],
            "optimizer": {"type": "sgd", "lr": self.training.lr}, "batch_size": self.training.batch_size,
            "epochs": self.training.epochs, "seed": self.seed})


@dataclass
class FederationData:
    test: Dataset            # the task's public test set (whole shards)
    evaluation: Dataset      # held out from everyone, for the report
    private: list[Dataset]   # each participant's own data


@dataclass
class FederationReport:
    zkpot_accuracy: float
    plain_fedavg_accuracy: float
    initial_accuracy: float
    threshold: int
    test_samples: int
    outcomes: list[list[RoundOutcome]]
    rounds: list[RoundResult]
    credits: dict[str, int]
    behaviours: dict[str, Behaviour]
    seconds: float
    task_id: int = 0
    employer: Employer | None = field(default=None, repr=False)
    participants: list[Participant] = field(default_factory=list, repr=False)
    data: FederationData | None = field(default=None, repr=False)

    def summary(self) -> str:
        lines = [f"threshold θ = {self.threshold}/{self.test_samples} correct on the task's test set"]
        for r, outcomes in enumerate(self.outcomes):
            for o in outcomes:
                state = "accepted" if o.accepted else (f"refused ({o.refusal})" if o.submitted else "not submitted")
                lines.append(f"round {r} {o.participant[:10]} {o.behaviour.value:15} proven "
                             f"{o.proven_correct:3d}  {state}")
            res = self.rounds[r]
            lines.append(f"round {r}: aggregated {len(res.aggregated)}, rejected off-chain {len(res.rejected)}")
        lines.append(f"global accuracy (held out): initial {self.initial_accuracy:.3f}, "
                     f"zkpot {self.zkpot_accuracy:.3f}, plain FedAvg over all {self.plain_fedavg_accuracy:.3f}")
        return "\n".join(lines)


def model_factory(config: FederationConfig):
    spec = config.spec()
    return lambda: build_model(spec)


def initial_state(config: FederationConfig) -> dict[str, torch.Tensor]:
    torch.manual_seed(config.seed)
    return build_model(config.spec()).state_dict()


def make_data(config: FederationConfig) -> FederationData:
    """Seeded: test shards, an evaluation set, and a Dirichlet non-IID split of the rest."""
    ds = demo_dataset("digits")
    order = np.random.default_rng(config.seed).permutation(len(ds))
    n_test = config.shards * config.shard_size
    test, evaluation = order[:n_test], order[n_test:n_test + config.eval_size]
    pool = order[n_test + config.eval_size:]
    parts = dirichlet_split(ds.labels[pool], config.participants, config.alpha, config.seed)
    return FederationData(test=ds.subset(test), evaluation=ds.subset(evaluation),
                          private=[ds.subset(pool[p]) for p in parts])


def plain_fedavg(config: FederationConfig, data: FederationData) -> dict[str, torch.Tensor]:
    """The baseline: every participant's update aggregated, weighted by local sample count."""
    factory, state = model_factory(config), initial_state(config)
    for r in range(config.rounds):
        updates = [make_update(b, factory, state, d.features, d.labels, CLASSES, _round_training(config, i, r))
                   for i, (b, d) in enumerate(zip(config.behaviours, data.private))]
        state = fedavg(updates, [len(d) for d in data.private])
    return state


def _round_training(config: FederationConfig, index: int, round_: int) -> LocalTraining:
    t = config.training
    return LocalTraining(t.epochs, t.lr, t.batch_size, seed=config.seed + 17 * index + 1000 * round_)


def run_federation(config: FederationConfig, settings: Settings, rpc_url: str, private_keys: list[str],
                   store: Store | None = None) -> FederationReport:
    """Deploy, create the task, run every round with every participant, and compare."""
    if len(private_keys) < config.participants + 1:
        raise ValueError("need one key for the employer and one per participant")
    started = time.monotonic()
    store = store or open_store(settings)
    data = make_data(config)
    factory = model_factory(config)
    circuit = zk.ensure_circuit(factory(), (FEATURES,), CLASSES, config.shard_size, settings)

    employer_chain = ChainClient(rpc_url, private_keys[0], lock_dir=settings.path("locks"))
    verifier = deploy_accuracy_verifier(employer_chain, circuit)
    task_client = FederatedTaskClient.deploy(employer_chain)
    first_block = employer_chain.block_number()
    employer = Employer(task_client, store, circuit, factory, EncryptionKeyPair.generate())
    start = initial_state(config)
    task_id = employer.create_task(
        config.spec(), data.test, threshold=config.threshold, rounds=config.rounds,
        max_updates_per_round=config.participants, reward_per_update=config.reward_per_update,
        deadline=int(time.time()) + 7 * 24 * 3600, verifier=verifier, initial_state=start)

    participants = []
    for i, (behaviour, own) in enumerate(zip(config.behaviours, data.private)):
        chain = ChainClient(rpc_url, private_keys[i + 1], lock_dir=settings.path("locks"))
        participants.append(Participant(
            FederatedTaskClient(chain, task_client.address), store, circuit, factory, own.features,
            own.labels, behaviour, config.training, submit_below_threshold=behaviour is not Behaviour.honest))

    outcomes, rounds = [], []
    for r in range(config.rounds):
        round_outcomes = []
        for i, p in enumerate(participants):
            p.training = _round_training(config, i, 0)  # run_round adds the round offset
            round_outcomes.append(p.run_round(task_id))
        outcomes.append(round_outcomes)
        rounds.append(employer.close_round(task_id, from_block=first_block))

    final = employer.global_state(task_id, config.rounds)
    X, y = data.evaluation.features, data.evaluation.labels
    return FederationReport(
        zkpot_accuracy=accuracy(factory, final, X, y),
        plain_fedavg_accuracy=accuracy(factory, plain_fedavg(config, data), X, y),
        initial_accuracy=accuracy(factory, start, X, y),
        threshold=config.threshold, test_samples=len(data.test), outcomes=outcomes, rounds=rounds,
        credits={p.address: task_client.credit_of(p.address) for p in participants},
        behaviours={p.address: p.behaviour for p in participants},
        seconds=time.monotonic() - started, task_id=task_id, employer=employer,
        participants=participants, data=data)
