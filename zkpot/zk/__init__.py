"""zkpot's zk pipeline (the only place that calls ezkl): circuits cached per architecture and
shard size, weight and test-set commitments, proofs of accuracy, verification, EVM artifacts.

What a certificate certifies is the certified model (``zkpot.certified``): ``certify`` gives it,
``reference_count`` its exact count, ``weights_commitment`` its h_W. Plain functions throughout;
ezkl's async calls are run to completion inside.
"""

from zkpot.zk.circuit import Circuit, CircuitParams, CircuitTooLarge, ensure_circuit, verify_files
from zkpot.zk.prove import (
    AccuracyProof,
    WitnessMismatch,
    certify,
    encode_calldata,
    matches_commitment,
    prove_accuracy,
    prove_certificate,
    reference_count,
    shards,
    test_set_commitment,
    test_set_commitments,
    verify,
    weights_commitment,
)
from zkpot.zk.presets import PRESET_SHAPES, job_circuit, preset_circuit, preset_params, preset_shard_size
from zkpot.zk.srs import LocalSrsRefused, SrsMismatch
from zkpot.zk.statement import AccuracyStatement, count_float

__all__ = [
    "AccuracyProof", "AccuracyStatement", "Circuit", "CircuitParams", "CircuitTooLarge",
    "LocalSrsRefused", "PRESET_SHAPES", "SrsMismatch", "WitnessMismatch", "certify", "count_float",
    "encode_calldata", "ensure_circuit", "job_circuit", "matches_commitment", "preset_circuit", "preset_params",
    "preset_shard_size", "prove_accuracy", "prove_certificate", "reference_count", "shards",
    "test_set_commitment", "test_set_commitments", "verify", "verify_files", "weights_commitment",
]
