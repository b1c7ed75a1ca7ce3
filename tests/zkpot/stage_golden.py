"""Golden outputs of the stage function: every preset, plus specs that reach the code paths the
presets do not (strided and stacked convolutions, MaxPool before ReLU, SGD without momentum,
Adam with other betas, dropout everywhere, odd batch sizes with a merged trailing sample).

Each case trains two stages from S_0 on consecutive samples of its demo dataset and records,
per stage, H(S), rho, the sha256 and length of the state bytes, every per-sample loss and every
checkpoint. ``tests/zkpot/test_stage_golden.py`` recomputes them and compares the files byte for
byte, so any change to the stage function's arithmetic shows up as a diff.

Regenerate (only when the stage function's formulas change on purpose, with a new state format):

    tools/with-env.sh python -m tests.zkpot.stage_golden --write
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
SAMPLES = 97          # per stage: with batch 16 or 8 the last batch takes the trailing sample

_CONV = {"type": "Conv2d", "in_channels": 1, "out_channels": 4, "kernel_size": 3, "stride": 2, "padding": 1}
# specs that are not presets, chosen for the code paths they reach
EXTRA_CASES: dict[str, tuple[dict, str, int, float]] = {
    "cover-conv-stride-sgd": ({
        "layers": [_CONV, {"type": "ReLU"},
                   {"type": "Conv2d", "in_channels": 4, "out_channels": 6, "kernel_size": 2},
                   {"type": "MaxPool2d", "kernel_size": 3}, {"type": "ReLU"}, {"type": "Flatten"},
                   {"type": "Dropout", "p": 0.25}, {"type": "Linear", "in_features": 6, "out_features": 10}],
        "optimizer": {"type": "sgd", "lr": 0.2}, "batch_size": 5, "seed": 21}, "digits-images", 96, 1.0),
    "cover-mlp-adam-betas": ({
        "layers": [{"type": "Dropout", "p": 0.5}, {"type": "Linear", "in_features": 13, "out_features": 7},
                   {"type": "Linear", "in_features": 7, "out_features": 5}, {"type": "ReLU"},
                   {"type": "Linear", "in_features": 5, "out_features": 3}],
        "optimizer": {"type": "adam", "lr": 0.05, "betas": [0.5, 0.9], "eps": 0.001},
        "batch_size": 3, "seed": 8}, "wine", 97, 1.0),
    "cover-flatten-sgd-momentum": ({
        "layers": [{"type": "Flatten"}, {"type": "Linear", "in_features": 64, "out_features": 12},
                   {"type": "ReLU"}, {"type": "Dropout", "p": 0.3},
                   {"type": "Linear", "in_features": 12, "out_features": 10}],
        "optimizer": {"type": "sgd", "lr": 0.5, "momentum": 0.5}, "batch_size": 2, "seed": 4},
        "digits-images", 41, 1.0),
    # pixels x1024 (the largest feature value allowed) and large steps: activations, weights and
    # gradients saturate, and products exceed 2^53 so they are computed in several exact parts
    "cover-saturating-sgd": ({
        "layers": [{"type": "Linear", "in_features": 784, "out_features": 32}, {"type": "ReLU"},
                   {"type": "Linear", "in_features": 32, "out_features": 10}],
        "optimizer": {"type": "sgd", "lr": 1.0, "momentum": 0.9}, "batch_size": 16, "seed": 2}, "digits28", 97, 1024.0),
    "cover-saturating-adam-conv": ({
        "layers": [{"type": "Conv2d", "in_channels": 1, "out_channels": 4, "kernel_size": 5, "stride": 3},
                   {"type": "ReLU"}, {"type": "MaxPool2d", "kernel_size": 2},
                   {"type": "Conv2d", "in_channels": 4, "out_channels": 8, "kernel_size": 3, "padding": 1},
                   {"type": "Flatten"}, {"type": "Linear", "in_features": 128, "out_features": 10}],
        "optimizer": {"type": "adam", "lr": 0.5, "betas": [0.8, 0.5]}, "batch_size": 8, "seed": 6},
        "digits28-images", 97, 1024.0),
}


def cases() -> dict[str, tuple[dict, str, int, float]]:
    """Every golden case: name -> (spec JSON, demo dataset, samples per stage, feature scale)."""
    from zkpot.spec import PRESET_DATASETS, PRESETS

    out = {name: (PRESETS[name], PRESET_DATASETS[name], SAMPLES, 1.0) for name in PRESETS if name in PRESET_DATASETS}
    out.update(EXTRA_CASES)
    return out


def render(name: str) -> bytes:
    """The golden file's bytes for one case, computed now."""
    from zkpot.datasets import demo_dataset, validate
    from zkpot.spec import ModelSpec
    from zkpot.stage import initial_weights, train_stage

    spec_json, dataset, samples, scale = cases()[name]
    spec, ds = ModelSpec.from_json(spec_json), demo_dataset(dataset)
    if scale != 1.0:
        ds = validate(ds.features * np.float32(scale), ds.labels, ds.num_classes)
    state = initial_weights(spec)
    s0 = state.to_bytes()
    record = {"case": name, "spec": spec.to_dict(), "dataset": dataset, "feature_scale": scale,
              "samples_per_stage": samples,
              "initial_state_sha256": hashlib.sha256(s0).hexdigest(), "initial_weights_hash": state.hash().hex(),
              "stages": []}
    data = s0
    for stage in (1, 2):
        index = np.arange((stage - 1) * samples, stage * samples) % len(ds)
        result = train_stage(spec, data, ds.subset(index), stage)
        data = result.state_bytes
        record["stages"].append({
            "stage": stage, "samples": [int(index[0]), int(index[-1]) + 1],
            "weights_hash": result.weights_hash.hex(), "rho": result.rho.hex(),
            "state_sha256": hashlib.sha256(data).hexdigest(), "state_bytes": len(data),
            "step": result.state.step, "losses": [int(v) for v in result.losses],
            "checkpoints": [c.hex() for c in result.checkpoints]})
    return (json.dumps(record, indent=1, sort_keys=True) + "\n").encode("ascii")


def path_of(name: str) -> Path:
    return GOLDEN_DIR / f"stage-{name}.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="write or check the stage function's golden files")
    parser.add_argument("--write", action="store_true", help="(re)write every golden file")
    parser.add_argument("--only", default="", help="comma-separated case names")
    args = parser.parse_args(argv)
    names = [n for n in cases() if not args.only or n in args.only.split(",")]
    differ = 0
    for name in names:
        data, path = render(name), path_of(name)
        if args.write:
            GOLDEN_DIR.mkdir(exist_ok=True)
            path.write_bytes(data)
            print(f"wrote {path.name}")
        elif not path.exists() or path.read_bytes() != data:
            differ += 1
            print(f"DIFFERS {path.name}")
        else:
            print(f"same {path.name}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
