"""zkpot's zk pipeline (the only place that calls ezkl): circuits cached per architecture and
shard size, weight and test-set commitments, proofs of accuracy, verification, EVM artifacts.

Plain functions throughout; ezkl's async calls are run to completion inside.
"""

from zkpot.zk.circuit import Circuit, CircuitParams, CircuitTooLarge, ensure_circuit, verify_files
from zkpot.zk.prove import (
    AccuracyProof,
    encode_calldata,
    prove_accuracy,
    prove_certificate,
    shards,
    test_set_commitment,
    test_set_commitments,
    verify,
    weights_commitment,
)
from zkpot.zk.presets import PRESET_SHAPES, preset_circuit
from zkpot.zk.statement import AccuracyStatement, count_float

__all__ = [
    "AccuracyProof", "AccuracyStatement", "Circuit", "CircuitParams", "CircuitTooLarge", "count_float",
    "encode_calldata", "ensure_circuit", "PRESET_SHAPES", "preset_circuit", "prove_accuracy", "prove_certificate", "shards",
    "test_set_commitment", "test_set_commitments", "verify", "verify_files", "weights_commitment",
]
