"""Federated-mode benchmark: zkpot's Flower strategy beside Flower's FedAvg and robust
strategies (FedMedian, Krum), on the same non-IID split and the same attack mix.

Ten participants on a Dirichlet(0.5) split of digits, three rounds: four honest trainers, a
label flipper, one sending random weights, one with constant outputs, a free-rider (the global
model with one bias changed) and two Sybils doing the same. zkpot runs on a throwaway Anvil
with real proofs and the real verifier (one proof per update: the test set is one shard of
N=32), its chain's clock moved over each phase's idle rest (DevChainClock), so the wall time is
the work. Flower's strategies run without proofs on the simulation engine.

Figures: held-out accuracy after each round (``fl_zkpot_accuracy``, ``fl_fedavg_accuracy``,
``fl_robust_accuracy`` = the better of FedMedian and Krum after the last round, each also
apart); wei paid to attackers; the most a free-rider or Sybil was paid over an honest
participant's mean (``fl_freerider_paid_ratio``); gas per accepted update; seconds per round.
"""

from __future__ import annotations

from dataclasses import replace

from zkpot.chain import ChainClient
from zkpot.chain.clock import DevChainClock
from zkpot.config import Settings
from zkpot.devnet import Anvil, dev_private_keys
from zkpot.federated.local import Behaviour
from zkpot_flower.federation import FederationConfig, run_flower, run_zkpot

B = Behaviour
CONFIG = FederationConfig(participants=10, rounds=3, alpha=0.5, test_size=32,
                          attackers=(B.label_flip, B.random_weights, B.constant_output, B.free_rider,
                                     B.sybil_copy, B.sybil_copy))
ATTACKERS = (B.label_flip, B.random_weights, B.constant_output)
FREE_RIDERS = (B.free_rider, B.sybil_copy)


def run(ctx) -> dict:
    config = replace(CONFIG, participants=8, rounds=2) if ctx.quick else CONFIG
    settings = Settings.from_env(environ={}, state_dir=ctx.work_dir / "federated")
    with Anvil(log_dir=settings.path("logs"), accounts=config.participants + 1) as chain:
        report = run_zkpot(config, settings, chain.rpc_url, dev_private_keys(config.participants + 1),
                           clock=DevChainClock(ChainClient(chain.rpc_url)))
    print(report.summary())
    baselines = {name: run_flower(config, name) for name in ("fedavg", "fedmedian", "krum")}
    robust = max(("fedmedian", "krum"), key=lambda n: baselines[n][-1])
    honest = report.paid(B.honest)
    honest_mean = sum(honest) / len(honest)
    accepted = [o for rep in report.rounds for o in rep.outcomes if o["accepted"]]
    gas = [o["gas"] for o in accepted if o["gas"]]
    failures = [f"round {rep.round} {f}" for rep in report.rounds for f in rep.failures]
    if failures:  # the figures below are then of a federation that lost participants
        ctx.notes["fl_failed_replies"] = "; ".join(failures)
    return {
        "fl_zkpot_accuracy": [round(a, 4) for a in report.accuracy],
        "fl_fedavg_accuracy": [round(a, 4) for a in baselines["fedavg"]],
        "fl_robust_accuracy": [round(a, 4) for a in baselines[robust]],
        "fl_robust_strategy": robust,
        "fl_fedmedian_accuracy": [round(a, 4) for a in baselines["fedmedian"]],
        "fl_krum_accuracy": [round(a, 4) for a in baselines["krum"]],
        "fl_initial_accuracy": round(report.initial_accuracy, 4),
        "fl_attacker_paid_wei": sum(report.paid(*ATTACKERS)),
        "fl_freerider_paid_ratio": round(max(report.paid(*FREE_RIDERS)) / honest_mean, 4) if honest_mean else None,
        "fl_honest_paid_wei": honest,
        "fl_submit_update_gas_mean": sum(gas) // len(gas) if gas else None,
        "fl_round_s": round(sum(r.seconds for r in report.rounds) / len(report.rounds), 1),
        "fl_participants": config.participants,
        "fl_rounds": config.rounds,
        "fl_federation_s": round(report.seconds, 1),
        "fl_failed_replies": len(failures),
    }
