"""A demo federation on a non-IID split of the bundled digits set, with Byzantine members.

Runs a real FederatedTask on a chain (real proofs, real verifier) next to plain FedAvg over
the same participants without proofs, and reports both global models' accuracy on held-out
data: the attackers (one flips labels, one sends random weights) poison plain FedAvg, while
in zkpot their updates cannot reach θ and are never aggregated.

Each round follows the task's phases on chain time: every participant trains, proves,
encrypts and commits in the commit phase, every one reveals in the reveal phase, and the
employer closes the round after it. The waits go through a ``ChainClock``: the chain's own
time by default, or ``DevChainClock`` to move a dev chain's clock over the idle part.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from zkpot import zk
from zkpot.chain.client import ChainClient
from zkpot.chain.clock import ChainClock, LiveChainClock
from zkpot.config import Settings
from zkpot.datasets import Dataset, demo_dataset
from zkpot.federated.chain import FederatedTaskClient
from zkpot.federated.crypto import EncryptionKeyPair
from zkpot.federated.employer import Employer, RoundResult, accuracy
from zkpot.federated.fedavg import fedavg
from zkpot.federated.local import Behaviour, LocalTraining, make_update
from zkpot.federated.participant import Participant, PendingReveal, RoundOutcome, RoundSkipped
from zkpot.federated.phases import RoundPhases
from zkpot.federated.split import dirichlet_split
from zkpot.spec import ModelSpec, build_model
from zkpot.storage import Store, open_store
from zkpot.zk.evm import deploy_accuracy_verifier

FEATURES, CLASSES = 64, 10
# Commit window of the demo federation: a participant's training, two shard proofs, encryption
# and commitment took 22 s on the shared 2-core development machine at load 7.3 (88 s for four,
# docs/federated.md); the window allows 45 s each, plus 30 s.
COMMIT_S_EACH = 45
COMMIT_BASE_S = 30


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
    # the task's phases: every participant's training, proofs and commitment must fit in the
    # commit window (None: sized by the participant count, COMMIT_S_EACH each)
    commit_window_s: int | None = None
    reveal_window_s: int = 30        # one submitUpdate per participant: four took 1 s in all
    deadline_s: int = 7 * 24 * 3600  # after the task's creation, in chain time

    @property
    def commit_window(self) -> int:
        """Seconds of each round's commit phase."""
        if self.commit_window_s is not None:
            return self.commit_window_s
        return COMMIT_BASE_S + COMMIT_S_EACH * self.participants

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


@dataclass(frozen=True)
class RoundTiming:
    """One round's phases (chain time) and how long its work took (this machine's seconds)."""

    round: int
    phases: RoundPhases
    commit_work_s: float  # every participant's training, proofs, encryption and commitment
    reveal_work_s: float  # every reveal
    close_work_s: float   # the employer's review, aggregation and closeRound


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
    timings: list[RoundTiming] = field(default_factory=list)
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
            if r < len(self.timings):
                t = self.timings[r]
                lines.append(f"round {r} phases: commits took {t.commit_work_s:.0f} s of a "
                             f"{t.phases.commit_end - t.phases.start} s commit phase, reveals "
                             f"{t.reveal_work_s:.0f} s of a {t.phases.reveal_end - t.phases.commit_end} s reveal phase")
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
                   store: Store | None = None, clock: ChainClock | None = None) -> FederationReport:
    """Deploy, create the task, run every round in its phases with every participant, compare.

    ``clock`` does the waits between phases: the chain's own time by default (a round then
    lasts its two windows), a ``DevChainClock`` to skip the idle time on a dev chain.
    """
    if len(private_keys) < config.participants + 1:
        raise ValueError("need one key for the employer and one per participant")
    started = time.monotonic()
    store = store or open_store(settings)
    data = make_data(config)
    factory = model_factory(config)
    circuit = zk.ensure_circuit(factory(), (FEATURES,), CLASSES, config.shard_size, settings)

    employer_chain = ChainClient(rpc_url, private_keys[0], lock_dir=settings.path("locks"))
    clock = clock or LiveChainClock(employer_chain)
    verifier = deploy_accuracy_verifier(employer_chain, circuit)
    task_client = FederatedTaskClient.deploy(employer_chain)
    first_block = employer_chain.block_number()
    employer = Employer(task_client, store, circuit, factory, EncryptionKeyPair.generate())
    start = initial_state(config)
    participants = []
    for i, (behaviour, own) in enumerate(zip(config.behaviours, data.private)):
        chain = ChainClient(rpc_url, private_keys[i + 1], lock_dir=settings.path("locks"))
        participants.append(Participant(
            FederatedTaskClient(chain, task_client.address), store, circuit, factory, own.features,
            own.labels, behaviour, config.training, submit_below_threshold=behaviour is not Behaviour.honest))
    # round 0's commit phase starts with the task: everything above comes first
    task_id = employer.create_task(
        config.spec(), data.test, threshold=config.threshold, rounds=config.rounds,
        max_updates_per_round=config.participants, reward_per_update=config.reward_per_update,
        deadline=clock.now() + config.deadline_s, verifier=verifier, initial_state=start,
        commit_window=config.commit_window, reveal_window=config.reveal_window_s)

    outcomes, rounds, timings = [], [], []
    for r in range(config.rounds):
        phases = task_client.round_phases(task_id)
        t0 = time.monotonic()
        committed = []
        for i, p in enumerate(participants):
            p.training = _round_training(config, i, 0)  # commit_round adds the round offset
            committed.append(p.commit_round(task_id))
        t1 = time.monotonic()
        clock.wait_until(phases.commit_end)
        t2 = time.monotonic()
        outcomes.append([_revealed(p, c, clock) for p, c in zip(participants, committed)])
        t3 = time.monotonic()
        clock.wait_until(phases.reveal_end)
        t4 = time.monotonic()
        rounds.append(employer.close_round(task_id, from_block=first_block))
        timings.append(RoundTiming(r, phases, t1 - t0, t3 - t2, time.monotonic() - t4))

    final = employer.global_state(task_id, config.rounds)
    X, y = data.evaluation.features, data.evaluation.labels
    return FederationReport(
        zkpot_accuracy=accuracy(factory, final, X, y),
        plain_fedavg_accuracy=accuracy(factory, plain_fedavg(config, data), X, y),
        initial_accuracy=accuracy(factory, start, X, y),
        threshold=config.threshold, test_samples=len(data.test), outcomes=outcomes, rounds=rounds,
        credits={p.address: task_client.credit_of(p.address) for p in participants},
        behaviours={p.address: p.behaviour for p in participants},
        seconds=time.monotonic() - started, timings=timings, task_id=task_id, employer=employer,
        participants=participants, data=data)


def _revealed(participant: Participant, committed: PendingReveal | RoundOutcome | RoundSkipped,
              clock: ChainClock) -> RoundOutcome:
    """The participant's outcome of the round: its reveal, if it committed."""
    if isinstance(committed, PendingReveal):
        return participant.reveal(committed, clock)
    if isinstance(committed, RoundSkipped):
        # each participant starts a round fresh: only the others' work can have used up the phase
        raise RuntimeError(f"round {committed.round}'s commit phase was over before participant "
                           f"{participant.address} could start ({committed.reason.value}): the "
                           "commit window is too short for this machine; raise commit_window_s")
    return committed
