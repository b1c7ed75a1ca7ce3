"""The employer's side of a Flower app: create the FederatedTask a ``ZkpotStrategy`` runs.

``open_task`` reads the app's run config (``zkpot-*`` keys, as in
examples/flower-digits/pyproject.toml), deploys the verifier of the model's circuit and a
FederatedTask (or takes the deployment map's), and creates the task: test set committed and
stored, the initial model certified, the rewards escrowed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import torch

from zkpot.chain import ChainClient
from zkpot.chain.clock import ChainClock, DevChainClock, LiveChainClock
from zkpot.config import Settings
from zkpot.datasets import Dataset
from zkpot.federated.chain import CONTRACT, FederatedTaskClient
from zkpot.federated.crypto import EncryptionKeyPair
from zkpot.federated.employer import Employer
from zkpot.federated.manifest import update_circuit
from zkpot.spec import ModelSpec, build_model
from zkpot.storage import Store, open_store
from zkpot.zk.evm import deploy_accuracy_verifier


@dataclass(frozen=True)
class TaskTerms:
    """What the task escrows and requires (see zkpot.federated.rewards for the rule)."""

    rounds: int
    max_updates_per_round: int
    threshold: int
    min_improvement: int = 1
    reward_per_update: int = 10**15
    commit_window: int = 3600
    reveal_window: int = 600
    deadline_s: int = 7 * 24 * 3600

    @classmethod
    def from_run_config(cls, c: Mapping) -> "TaskTerms":
        return cls(rounds=int(c["num-server-rounds"]), max_updates_per_round=int(c.get("zkpot-max-updates", 64)),
                   threshold=int(c["zkpot-threshold"]), min_improvement=int(c.get("zkpot-min-improvement", 1)),
                   reward_per_update=int(c.get("zkpot-reward-wei", 10**15)),
                   commit_window=int(c.get("zkpot-commit-window", 3600)),
                   reveal_window=int(c.get("zkpot-reveal-window", 600)))


def create_task(chain: ChainClient, store: Store, settings: Settings, spec: ModelSpec, test: Dataset,
                initial: dict[str, torch.Tensor], terms: TaskTerms, clock: ChainClock,
                tasks: FederatedTaskClient | None = None, verifier: str | None = None) -> tuple[Employer, int]:
    """Create the task (deploying the contracts not given) and return its employer and id."""
    def factory() -> torch.nn.Module:
        return build_model(spec)

    shape = tuple(test.features.shape[1:])
    with torch.no_grad():
        classes = int(factory()(torch.zeros((1, *shape))).shape[-1])
    circuit = update_circuit(spec, shape, classes, len(test), settings)  # one shard: one proof
    tasks = tasks or FederatedTaskClient.deploy(chain)
    employer = Employer(tasks, store, circuit, factory, EncryptionKeyPair.generate())
    task_id = employer.create_task(
        spec, test, threshold=terms.threshold, rounds=terms.rounds,
        max_updates_per_round=terms.max_updates_per_round, reward_per_update=terms.reward_per_update,
        deadline=clock.now() + terms.deadline_s, verifier=verifier or deploy_accuracy_verifier(chain, circuit),
        initial_state=initial, commit_window=terms.commit_window, reveal_window=terms.reveal_window,
        min_improvement=terms.min_improvement)
    return employer, task_id


def open_task(run_config: Mapping, spec: ModelSpec, test: Dataset, initial: dict[str, torch.Tensor],
              terms: TaskTerms) -> tuple[Employer, int, ChainClock]:
    """A task for this run, from the app's run config; the clock the strategy waits on
    (``zkpot-fast-forward``: move a development chain's clock over each phase's idle rest)."""
    env = {"ZKPOT_RPC_URL": str(run_config.get("zkpot-rpc-url", "")),
           "ZKPOT_STATE_DIR": str(run_config.get("zkpot-state-dir", "")),
           "ZKPOT_STORAGE_DIR": str(run_config.get("zkpot-storage-dir", ""))}
    settings = Settings.from_env(environ={**os.environ, **{k: v for k, v in env.items() if v}})
    if run_config.get("zkpot-dev-keys"):
        from zkpot.devnet import dev_private_keys

        key = dev_private_keys(1)[0]
    elif settings.employer_key is not None:
        key = settings.employer_key.get_secret_value()
    else:
        raise RuntimeError("set ZKPOT_EMPLOYER_KEY (or zkpot-dev-keys on a development chain)")
    chain = ChainClient(settings.rpc_url, key, chain_id=settings.chain_id, lock_dir=settings.path("locks"))
    clock = DevChainClock(chain) if run_config.get("zkpot-fast-forward") else LiveChainClock(chain)
    tasks = None
    try:
        from zkpot.chain import load_deployment

        tasks = FederatedTaskClient(chain, load_deployment(settings).contracts[CONTRACT])
    except (FileNotFoundError, KeyError):
        pass  # none deployed yet: create_task deploys one
    employer, task_id = create_task(chain, open_store(settings), settings, spec, test, initial, terms, clock, tasks)
    return employer, task_id, clock
