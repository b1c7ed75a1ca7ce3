"""zkpot's zk pipeline (the only place that calls ezkl): circuits cached per architecture and
shard size, weight and test-set commitments, proofs of accuracy, verification, EVM artifacts.

What a certificate certifies is the certified model (``zkpot.certified``): ``certify`` gives it,
``reference_count`` its exact count, ``weights_commitment`` its h_W. Plain functions throughout;
ezkl's async calls are run to completion inside. Proving needs no torch: ``AccuracyStatement``
and ``count_float`` (the statement as a module, the float count) load it when first used.
"""

from zkpot.zk.circuit import (Circuit, CircuitParams, CircuitTooLarge, ensure_circuit, lean_params,
                              spec_circuit, verify_files)
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

__all__ = [
    "AccuracyProof", "AccuracyStatement", "Circuit", "CircuitParams", "CircuitTooLarge",
    "LocalSrsRefused", "PRESET_SHAPES", "SrsMismatch", "WitnessMismatch", "certify", "count_float",
    "encode_calldata", "ensure_circuit", "job_circuit", "lean_params", "matches_commitment",
    "preset_circuit", "preset_params", "preset_shard_size", "prove_accuracy", "prove_certificate",
    "reference_count", "shards", "spec_circuit", "test_set_commitment", "test_set_commitments",
    "verify", "verify_files", "weights_commitment",
]


def __getattr__(name: str):
    if name in ("AccuracyStatement", "count_float"):    # torch: only when asked for
        from zkpot.zk import statement

        return getattr(statement, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
