"""Run zkpot's benchmarks and write ``bench/results/latest.json`` and ``latest.md``.

Each benchmark is a module ``bench.<name>`` with ``run(ctx) -> dict`` returning flat figures;
a figure it cannot measure is ``None`` with a reason in ``ctx.notes``. Select some with
``python -m bench.run --only pot,gas``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import psutil

RESULTS = Path(__file__).resolve().parent / "results"

# benchmark modules, in the order they run
SUITES = ["pot", "zk", "gas", "dispute", "e2e", "federated", "api", "ops"]

# every required figure with its target (for the table); None = report only
TARGETS: dict[str, str | None] = {
    "pot_overhead_ratio": "<= 1.05",
    "pot_fixed_vs_float_ratio": "<= 1.5",
    "pot_fixed_vs_float_ratio_t2": "<= 1.5",
    "pot_fixed_vs_float_ratio_cnn": "<= 1.5",
    "pot_fixed_vs_float_ratio_cnn_t2": "<= 1.5",
    "pot_fixed_vs_float_ratio_wine": "<= 1.5",
    "pot_fixed_vs_float_ratio_wine_t2": "<= 1.5",
    "pot_fixed_vs_float_ratio_mlp784": "<= 2",
    "pot_fixed_vs_float_ratio_mlp784_t2": "<= 2",
    "pot_fixed_vs_float_ratio_lenet": "<= 2",
    "pot_fixed_vs_float_ratio_lenet_t2": "<= 2",
    "pot_fixed_vs_float_ratio_mlp4096": "<= 3",
    "pot_fixed_vs_float_ratio_mlp4096_t2": "<= 3",
    "stage_gpu_bit_identical": "== True (CPU vs CUDA, every preset)",
    "stage_gpu_speedup_mlp4096": None,
    "stage_s_cpu": None,
    "stage_s_gpu": None,
    "zk_cert_s_n256": "<= 60 s (MLP, N=256 certificate)",
    "zk_cert_peak_mb_n256": "<= 4096 MB",
    "gas_cert_n256": "<= 1000000 (every check of the certificate)",
    "zk_cert_count_proven_n256": "== zk_cert_count_reference_n256",
    "zk_cert_count_reference_n256": None,
    "zk_cert_s_n1024": "<= 240 s (MLP, N=1024 certificate)",
    "zk_cert_peak_mb_n1024": "<= 6144 MB",
    "gas_cert_n1024": "<= 2000000",
    "zk_cert_s_cnn_n256": "<= 300 s (CNN, N=256 certificate)",
    "zk_cert_peak_mb_cnn_n256": "<= 8192 MB",
    "zk_cert_accuracy_cnn": "> zk_cert_accuracy_mlp (same test set)",
    "zk_cert_accuracy_mlp": None,
    "verifier_bytecode_bytes": "<= 24576 (EIP-170)",
    "gas_create_job": None,
    "gas_register": None,
    "gas_stage_per_node_c3": "<= 120000",
    "gas_finalise_c3": "<= 150000",
    "gas_max_tx_1000_declarations": "<= 500000",
    "stage_latency_blocks": None,
    "gas_verify_proof": "<= 700000 (one proof)",
    "gas_dispute_step_max": "<= 3000000 (one-step check, largest preset's sizes)",
    "dispute_rounds_per_side": "<= dispute_rounds_bound",
    "dispute_rounds_bound": None,
    "dispute_honest_compute_ratio": "<= 3 (x the stage's training time)",
    "e2e_job_s": None,
    "plain_training_s": None,
    "fl_zkpot_accuracy": "last > fl_fedavg_accuracy's (per round)",
    "fl_fedavg_accuracy": None,
    "fl_robust_accuracy": None,
    "fl_attacker_paid_wei": "== 0",
    "fl_freerider_paid_ratio": "<= 0.1 (of an honest share)",
    "fl_submit_update_gas_mean": "<= 700000",
    "fl_round_s": None,
    "fl_participants": ">= 8",
    "fl_failed_replies": "== 0 (participant replies that were errors)",
    "api_read_p50_ms": None,
    "api_read_p99_ms": None,
    "api_errors": "== 0",
    "api_bomb_peak_mb": "< 300 MB",
    "node_recovery_s": None,
    "outage_log_lines_per_s": None,
}


@dataclass
class BenchContext:
    """What a benchmark gets: a scratch folder, and a place for notes on what it skipped."""

    work_dir: Path
    quick: bool = False
    notes: dict[str, str] = field(default_factory=dict)


def machine() -> str:
    mem = psutil.virtual_memory().total / 2**30
    return f"{platform.machine()} {psutil.cpu_count()} cores {mem:.0f} GiB, {platform.platform()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", help="comma-separated suites to run", default="")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    args = parser.parse_args(argv)
    chosen = [s for s in SUITES if not args.only or s in args.only.split(",")]

    RESULTS.mkdir(parents=True, exist_ok=True)
    ctx = BenchContext(work_dir=RESULTS / "work", quick=args.quick)
    ctx.work_dir.mkdir(exist_ok=True)
    results: dict[str, object] = {key: None for key in TARGETS}
    previous = RESULTS / "latest.json"
    if args.only and previous.exists():  # a partial run keeps the other suites' figures
        old = json.loads(previous.read_text())
        results.update({k: v for k, v in old.items() if k not in ("notes", "machine")})
        ctx.notes.update(old.get("notes", {}))

    for name in chosen:
        started = time.monotonic()
        print(f"==> bench {name}", flush=True)
        try:
            module = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError:
            ctx.notes[name] = "benchmark not written yet"
            continue
        stale = dict(ctx.notes)
        ctx.notes.pop(name, None)
        try:
            figures = module.run(ctx)
            # a suite that cannot measure a figure does not erase another suite's measurement
            results.update({k: v for k, v in figures.items() if v is not None or results.get(k) is None})
            for key, value in figures.items():  # a fresh figure replaces an earlier "why not"
                if value is not None and ctx.notes.get(key) == stale.get(key):
                    ctx.notes.pop(key, None)
        except Exception as exc:  # a failed suite is reported, the others still run
            traceback.print_exc()
            ctx.notes[name] = f"failed: {exc!r}"
        print(f"    {name} took {time.monotonic() - started:.0f} s", flush=True)

    for key, value in results.items():
        if value is None and key in TARGETS and key not in ctx.notes:
            ctx.notes.setdefault(key, "not measured in this run")
    results["machine"] = machine()
    results["notes"] = ctx.notes
    previous.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    (RESULTS / "latest.md").write_text(table(results))
    print(table(results))
    print(f"bench: wrote {previous}")
    return 0


def table(results: dict) -> str:
    lines = [f"Machine: {results['machine']}", "", "| figure | measured | target |", "|---|---|---|"]
    for key, target in TARGETS.items():
        value = results.get(key)
        shown = "n/a" if value is None else (f"{value:.4g}" if isinstance(value, float) else str(value))
        lines.append(f"| {key} | {shown} | {target or ''} |")
    extra = sorted(k for k in results if k not in TARGETS and k not in ("machine", "notes"))
    for key in extra:
        lines.append(f"| {key} | {results[key]} | |")
    if results.get("notes"):
        lines += ["", "Notes:"] + [f"- {k}: {v}" for k, v in sorted(results["notes"].items())]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
