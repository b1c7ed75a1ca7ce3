"""Commitments, proving and verification of the accuracy statement.

Public instances, in ezkl's layout for this statement: ``[h_W, count]`` (the Poseidon hash of
the quantised weights, then the count). The test set is bound by the KZG commitments of its two
input tensors (features, one-hot labels), 64 bytes each, that open the proof; its commitment is
``keccak256`` of those 128 bytes.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import ezkl
import numpy as np
from eth_abi import encode as abi_encode

from zkpot.hashing import keccak
from zkpot.zk import _ezkl
from zkpot.zk.circuit import Circuit, check_srs
from zkpot.zk.statement import INPUT_NAMES, export_statement, onehot

# each polycommit input (features, one-hot labels) opens the proof with one G1 point
COMMITMENT_BYTES = 64 * len(INPUT_NAMES)
VERIFY_ACCURACY_SELECTOR = keccak(b"verifyAccuracy(bytes,uint256[])")[:4]


@dataclass
class AccuracyProof:
    """One shard's proof and the statement it proves."""

    proof: bytes
    instances: list[int]
    correct: int
    model_commitment: int
    test_set_commitment: bytes
    calldata: bytes = field(repr=False, default=b"")

    def with_instances(self, instances: list[int]) -> "AccuracyProof":
        """The same proof bytes claiming other public instances (for checks and tests)."""
        return AccuracyProof(self.proof, list(instances), instances[-1], instances[0],
                             self.test_set_commitment, encode_calldata(self.proof, instances))

    def with_proof(self, proof: bytes) -> "AccuracyProof":
        return AccuracyProof(proof, list(self.instances), self.correct, self.model_commitment,
                             keccak(proof[:COMMITMENT_BYTES]), encode_calldata(proof, self.instances))


def encode_calldata(proof: bytes, instances: list[int]) -> bytes:
    """Calldata of ``IAccuracyVerifier.verifyAccuracy(proof, instances)``."""
    return VERIFY_ACCURACY_SELECTOR + abi_encode(["bytes", "uint256[]"], [proof, list(instances)])


def _shard(circuit: Circuit, X, y) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=np.float32).reshape((-1, *circuit.input_shape))
    y = np.asarray(y).reshape(-1)
    if len(X) != circuit.n or len(y) != circuit.n:
        raise ValueError(f"a shard holds exactly {circuit.n} samples, got {len(X)} / {len(y)}")
    return X, onehot(y, circuit.num_classes)


def shards(circuit: Circuit, X, y) -> list[tuple[np.ndarray, np.ndarray]]:
    """Split a test set into shards of the circuit's N (its size must be a multiple of N)."""
    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y).reshape(-1)
    if len(X) != len(y) or len(X) == 0 or len(X) % circuit.n:
        raise ValueError(f"test set of {len(X)} samples is not a whole number of shards of {circuit.n}")
    return [(X[i:i + circuit.n], y[i:i + circuit.n]) for i in range(0, len(X), circuit.n)]


def test_set_commitment(circuit: Circuit, X, y) -> bytes:
    """c_T of one shard: keccak256 of the KZG commitment bytes that open its proofs."""
    x, oh = _shard(circuit, X, y)
    check_srs(circuit)          # another SRS gives another c_T, one no manifest lists
    opening = b""
    for tensor in (x, oh):
        felts = _ezkl.quantise(tensor.reshape(-1), circuit.params.scale, circuit.input_type)
        points = ezkl.kzg_commit(felts, str(circuit.vk_path), str(circuit.settings_path),
                                 str(circuit.srs_path))
        opening += b"".join(_ezkl.g1_bytes(p) for p in points)
    return keccak(opening)


def test_set_commitments(circuit: Circuit, X, y) -> list[bytes]:
    """c_T of every shard, in order (what the manifest lists)."""
    return [test_set_commitment(circuit, xs, ys) for xs, ys in shards(circuit, X, y)]


@contextmanager
def _scratch(circuit: Circuit):
    parent = circuit.dir.parent / "tmp"
    parent.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=f"{circuit.key}-", dir=parent))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _witness(circuit: Circuit, state_dict, x: np.ndarray, oh: np.ndarray, work: Path) -> tuple[Path, Path]:
    """Compile the circuit with these weights (settings and keys are the cached ones) and run it."""
    onnx_path = export_statement(circuit.model, circuit.input_shape, circuit.num_classes, circuit.n,
                                 work / "statement.onnx", state_dict=state_dict)
    compiled = work / "statement.compiled"
    if not ezkl.compile_circuit(str(onnx_path), str(compiled), str(circuit.settings_path)):
        raise RuntimeError("ezkl compile_circuit failed")
    data = work / "input.json"
    data.write_text(json.dumps({"input_data": [x.reshape(-1).tolist(), oh.reshape(-1).tolist()]}))
    witness = work / "witness.json"
    ezkl.gen_witness(str(data), str(compiled), str(witness))
    return compiled, witness


def weights_commitment(circuit: Circuit, state_dict: Mapping[str, object]) -> int:
    """h_W: the Poseidon hash of the weights quantised exactly as the circuit does.

    Recomputed offline from the weights and the circuit settings alone (no proving key): the
    circuit is evaluated on an all-zero shard and ezkl's hash of its params is read back.
    """
    zeros = np.zeros((circuit.n, *circuit.input_shape), dtype=np.float32)
    with _scratch(circuit) as work:
        _, witness = _witness(circuit, state_dict, zeros, np.zeros((circuit.n, circuit.num_classes),
                                                                   dtype=np.float32), work)
        hashes = json.loads(witness.read_text())["processed_params"]["poseidon_hash"]
    return _ezkl.felt_le_to_int(hashes[0])


def prove_accuracy(circuit: Circuit, state_dict: Mapping[str, object], X, y) -> AccuracyProof:
    """Prove how many of the shard's samples the model with ``state_dict`` classifies correctly."""
    x, oh = _shard(circuit, X, y)
    check_srs(circuit)          # a proof made with another SRS would be rejected on chain
    with _scratch(circuit) as work:
        compiled, witness = _witness(circuit, state_dict, x, oh, work)
        proof_path = work / "proof.json"
        ezkl.prove(str(witness), str(compiled), str(circuit.pk_path), str(proof_path),
                   srs_path=str(circuit.srs_path))
        data = json.loads(proof_path.read_text())
    proof = bytes.fromhex(data["hex_proof"].removeprefix("0x"))
    instances = [_ezkl.felt_le_to_int(f) for f in data["instances"][0]]
    if len(instances) != 2:
        raise RuntimeError(f"unexpected instance layout: {len(instances)} instances")
    return AccuracyProof(proof=proof, instances=instances, correct=instances[1],
                         model_commitment=instances[0],
                         test_set_commitment=keccak(proof[:COMMITMENT_BYTES]),
                         calldata=encode_calldata(proof, instances))


def prove_certificate(circuit: Circuit, state_dict: Mapping[str, object], X, y) -> list[AccuracyProof]:
    """One proof per shard of N; the certificate's count is the sum of theirs."""
    return [prove_accuracy(circuit, state_dict, xs, ys) for xs, ys in shards(circuit, X, y)]


def _proof_json(proof: AccuracyProof) -> dict:
    le = [int(v).to_bytes(32, "little").hex() for v in proof.instances]
    return {"protocol": None, "instances": [le], "proof": list(proof.proof),
            "hex_proof": "0x" + proof.proof.hex(), "split": None, "pretty_public_inputs": None,
            "timestamp": None, "version": None}


def verify(circuit: Circuit, proof: AccuracyProof, *, model_commitment: int | None = None,
           test_set_commitment: bytes | None = None, min_correct: int | None = None) -> bool:
    """True when the SNARK verifies and proves what ``proof`` claims (and what is expected).

    A valid proof only says what it says: pass the expected h_W, c_T and threshold to check
    the statement, as the contract's caller does.
    """
    if (len(proof.instances) != 2 or proof.model_commitment != proof.instances[0]
            or proof.correct != proof.instances[1]
            or proof.test_set_commitment != keccak(proof.proof[:COMMITMENT_BYTES])):
        return False
    if model_commitment is not None and proof.model_commitment != model_commitment:
        return False
    if test_set_commitment is not None and proof.test_set_commitment != test_set_commitment:
        return False
    if min_correct is not None and proof.correct < min_correct:
        return False
    check_srs(circuit)          # another SRS is a setup error, not a verdict on the proof
    with _scratch(circuit) as work:
        path = work / "proof.json"
        path.write_text(json.dumps(_proof_json(proof)))
        try:
            return bool(ezkl.verify(str(path), str(circuit.settings_path), str(circuit.vk_path),
                                    srs_path=str(circuit.srs_path)))
        except Exception:  # ezkl raises on a malformed or invalid proof
            return False


__all__ = ["AccuracyProof", "COMMITMENT_BYTES", "encode_calldata", "prove_accuracy",
           "prove_certificate", "shards", "test_set_commitment", "test_set_commitments", "verify",
           "weights_commitment"]
