"""``python -m zkpot.stage --selfcheck``: stage hashes of every preset, to compare machines.

``--compare cpu,cuda`` trains every preset on each device in turn and reports, stage by stage,
whether S_{i+1}'s hash, rho and every checkpoint are equal (exit status 0 when all are, 1 when
one differs, 2 when a device cannot run). ``cpu-torch`` names the GPU's code path run on the CPU,
so a machine without a GPU can check that path too.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch


def _stages(name: str, samples: int, device: str):
    """(stage, result, seconds) of two stages of a preset on consecutive demo samples."""
    from zkpot.datasets import demo_dataset
    from zkpot.spec import PRESET_DATASETS, preset
    from zkpot.stage import initial_weights, train_stage

    spec, ds = preset(name), demo_dataset(PRESET_DATASETS[name])
    state = initial_weights(spec).to_bytes()
    for stage in (1, 2):
        part = ds.subset(np.arange((stage - 1) * samples, stage * samples) % len(ds))
        started = time.perf_counter()
        result = train_stage(spec, state, part, stage, device=device)
        yield stage, result, time.perf_counter() - started
        state = result.state_bytes


def selfcheck(presets: list[str], samples: int, device: str) -> list[str]:
    """Train two stages of each preset on its demo data; lines of hashes to compare."""
    return [f"{name} stage {stage} weights {r.weights_hash.hex()} rho {r.rho.hex()}"
            for name in presets for stage, r, _ in _stages(name, samples, device)]


def compare(presets: list[str], samples: int, devices: list[str]) -> tuple[list[str], bool]:
    """Lines saying, per preset and stage, whether every device gave the same outputs."""
    lines, same = [], True
    for name in presets:
        runs = {d: list(_stages(name, samples, d)) for d in devices}
        for k, (stage, first, _) in enumerate(runs[devices[0]]):
            results = [runs[d][k][1] for d in devices]
            equal = all((r.state_bytes, r.rho, r.checkpoints) == (first.state_bytes, first.rho, first.checkpoints)
                        for r in results)
            same &= equal
            seconds = ", ".join(f"{d} {runs[d][k][2]:.3f} s" for d in devices)
            lines.append(f"{name} stage {stage} {'equal' if equal else 'DIFFERENT'} on {' '.join(devices)}: "
                         f"weights {first.weights_hash.hex()} rho {first.rho.hex()} ({seconds})")
    return lines, same


def main(argv: list[str] | None = None) -> int:
    """Print stage hashes, or compare devices (exit 0 equal, 1 different, 2 a device cannot run)."""
    from zkpot.spec import PRESET_DATASETS
    from zkpot.stage import StageError

    parser = argparse.ArgumentParser(description="zkpot stage function self-check")
    parser.add_argument("--selfcheck", action="store_true", required=True)
    parser.add_argument("--presets", default=",".join(PRESET_DATASETS), help="comma-separated preset names")
    parser.add_argument("--samples", type=int, default=96, help="samples per stage")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or cpu-torch")
    parser.add_argument("--compare", default="", help="devices to compare, e.g. cpu,cuda")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    presets = args.presets.split(",")
    from zkpot.pot import kernels

    # on stderr: the hash lines on stdout are what two machines compare
    print(f"cpu optimiser step and loss: {kernels.status()}", file=sys.stderr)
    try:
        if not args.compare:
            for line in selfcheck(presets, args.samples, args.device):
                print(line)
            return 0
        lines, same = compare(presets, args.samples, args.compare.split(","))
    except StageError as exc:
        print(f"cannot run: {exc}")
        return 2
    for line in lines:
        print(line)
    print("ALL EQUAL" if same else "DEVICES DIFFER")
    return 0 if same else 1
