"""Circuits for the bundled model presets (``zkpot.spec.PRESETS``): input shape and classes."""

from __future__ import annotations

from zkpot.config import Settings
from zkpot.zk.circuit import Circuit, CircuitParams, ensure_circuit

# preset -> (input shape, number of classes), as its demo dataset defines them
PRESET_SHAPES: dict[str, tuple[tuple[int, ...], int]] = {
    "digits-mlp": ((64,), 10),
    "digits-cnn": ((1, 8, 8), 10),
    "wine-mlp": ((13,), 3),
    "digits28-mlp": ((784,), 10),
    "digits28-lenet": ((1, 28, 28), 10),
}


def preset_circuit(name: str, n: int, settings: Settings, params: CircuitParams | None = None,
                   calibration=None) -> Circuit:
    """The (cached) accuracy circuit of preset ``name`` over shards of ``n`` samples."""
    from zkpot.spec import build_model, preset

    input_shape, classes = PRESET_SHAPES[name]
    return ensure_circuit(build_model(preset(name)), input_shape, classes, n, settings,
                          params=params, calibration=calibration)


__all__ = ["PRESET_SHAPES", "preset_circuit"]
