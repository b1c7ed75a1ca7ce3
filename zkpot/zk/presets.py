"""Circuits for the bundled model presets (``zkpot.spec.PRESETS``): shapes, shard sizes, params.

Each preset's shard size N and circuit params are the measured best on 2 cores (docs/zk.md):
a certificate over a test set of k·N samples is k proofs, each checked on chain.
"""

from __future__ import annotations

from zkpot.config import Settings
from zkpot.zk.circuit import Circuit, CircuitParams, spec_circuit

# preset -> (input shape, number of classes), as its demo dataset defines them
PRESET_SHAPES: dict[str, tuple[tuple[int, ...], int]] = {
    "digits-mlp": ((64,), 10),
    "digits-cnn": ((1, 8, 8), 10),
    "digits-cnn-s2": ((1, 8, 8), 10),
    "wine-mlp": ((13,), 3),
    "digits28-mlp": ((784,), 10),
    "digits28-lenet": ((1, 28, 28), 10),
}

# the layout measured best on 2 cores (docs/zk.md), CircuitParams' defaults: matmuls by
# Freivalds' check, range checks in two 16-bit legs, one inner column (~0.66M gas a proof)
MEASURED = CircuitParams()

# preset -> (shard size N, circuit params); a certificate over k*N test samples is k proofs
PRESET_CIRCUITS: dict[str, tuple[int, CircuitParams]] = {
    "digits-mlp": (256, MEASURED),       # 612 rows a sample: N=256 in 2^18 rows, one proof
    "digits-cnn-s2": (64, MEASURED),     # 3,396 rows a sample: N=64 in 2^18 rows
    "digits-cnn": (16, MEASURED),        # its 8x8x8 activations and max-pooling: ~3.5x the rows
    "wine-mlp": (32, MEASURED),          # its demo test set is small
}
DEFAULT_SHARD_SIZE = 64


def preset_shard_size(name: str) -> int:
    """The shard size N a preset's certificates use (a test set is a whole number of shards)."""
    return PRESET_CIRCUITS.get(name, (DEFAULT_SHARD_SIZE, None))[0]


def preset_params(name: str) -> CircuitParams:
    """The circuit params a preset's certificates use."""
    return PRESET_CIRCUITS.get(name, (None, CircuitParams()))[1]


def preset_circuit(name: str, n: int | None, settings: Settings, params: CircuitParams | None = None,
                   calibration=None, *, chain_id: int | None = None) -> Circuit:
    """The (cached) accuracy circuit of preset ``name`` over shards of ``n`` samples (the
    preset's shard size when None)."""
    from zkpot.spec import preset

    input_shape, classes = PRESET_SHAPES[name]
    return spec_circuit(preset(name), input_shape, classes, n or preset_shard_size(name), settings,
                        params=params or preset_params(name), calibration=calibration,
                        chain_id=chain_id)


def job_circuit(manifest, settings: Settings, chain_id: int | None) -> Circuit:
    """A delegated job's accuracy circuit: the manifest's architecture over shards of
    test_size / shards samples (cached). The nodes prove with it, the employer audits with it."""
    shards = max(1, len(manifest.test_commitments))
    n = max(1, manifest.test_size // shards)
    return spec_circuit(manifest.model_spec, tuple(manifest.input_shape), manifest.num_classes, n,
                        settings, chain_id=chain_id)


__all__ = ["DEFAULT_SHARD_SIZE", "job_circuit", "PRESET_CIRCUITS", "PRESET_SHAPES", "preset_circuit",
           "preset_params", "preset_shard_size"]
