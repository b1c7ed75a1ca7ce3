"""Federated-mode benchmark: a demo federation larger than the test's, on a throwaway Anvil.

Six participants (four honest, one flipping labels, one sending random weights) on a
Dirichlet(0.5) non-IID split of digits, three rounds, a test set of 2 shards of N=16. Reports
the held-out accuracy of zkpot's global model (only proven updates, FedAvg weighted by proven
count) beside plain FedAvg over every participant (weighted by sample count, poisoned by the
attackers), and what the rounds cost: gas of an update's commitment and of its submission
(the reveal, which verifies the proofs). The rounds keep their phases; the bench's own chain
has its clock moved over each phase's idle rest (DevChainClock), so the wall time measured is
the work, and the work per phase is reported beside the windows.
"""

from __future__ import annotations

from dataclasses import replace

from zkpot.chain import ChainClient
from zkpot.chain.clock import DevChainClock
from zkpot.config import Settings
from zkpot.devnet import Anvil, dev_private_keys
from zkpot.federated.federation import FederationConfig, run_federation

CONFIG = FederationConfig(participants=6, rounds=3, alpha=0.5, shard_size=16, shards=2)


def run(ctx) -> dict:
    config = replace(CONFIG, participants=5, rounds=2) if ctx.quick else CONFIG
    settings = Settings.from_env(environ={}, state_dir=ctx.work_dir / "federated")
    with Anvil(log_dir=settings.path("logs")) as chain:
        report = run_federation(config, settings, chain.rpc_url, dev_private_keys(config.participants + 1),
                                clock=DevChainClock(ChainClient(chain.rpc_url)))
    print(report.summary())
    accepted = [o for round_ in report.outcomes for o in round_ if o.accepted]
    attackers = [o for round_ in report.outcomes for o in round_ if o.behaviour.value != "honest"]
    return {
        "fl_honest_zkpot_accuracy": round(report.zkpot_accuracy, 4),
        "fl_plain_fedavg_accuracy": round(report.plain_fedavg_accuracy, 4),
        "fl_initial_accuracy": round(report.initial_accuracy, 4),
        "fl_participants": config.participants,
        "fl_rounds": config.rounds,
        "fl_attacker_updates_accepted": sum(o.accepted for o in attackers),
        "fl_submit_update_gas_mean": (sum(o.gas_used for o in accepted) // len(accepted)) if accepted else None,
        "fl_commit_update_gas_mean": (sum(o.commit_gas_used for o in accepted) // len(accepted)) if accepted else None,
        "fl_federation_s": round(report.seconds, 1),
        "fl_commit_window_s": config.commit_window,
        "fl_commit_work_s_max": round(max(t.commit_work_s for t in report.timings), 1),
        "fl_reveal_window_s": config.reveal_window_s,
        "fl_reveal_work_s_max": round(max(t.reveal_work_s for t in report.timings), 1),
    }
