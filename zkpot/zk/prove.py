"""Commitments, proving and verification of the accuracy statement.

The one public instance is the count. The test set and the weights are bound by KZG
commitments that open the proof, 64 bytes (one G1 point) each: the two input tensors (features,
one-hot labels) first, then the weights. c_T is ``keccak256`` of the first 128 bytes, h_W
``keccak256`` of the next 64 (as a ``uint256``). The commitments carry no blinding, so both are
recomputed from T and W alone (``test_set_commitment``, ``weights_commitment``).
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

# each polycommit input (features, one-hot labels) opens the proof with one G1 point …
TEST_SET_BYTES = 64 * len(INPUT_NAMES)
# … and the weights (all params in one column) follow with one more
MODEL_BYTES = 64
COMMITMENT_BYTES = TEST_SET_BYTES + MODEL_BYTES
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

    @classmethod
    def of(cls, proof: bytes, instances: list[int]) -> "AccuracyProof":
        """What ``proof`` states with ``instances``, read as the contracts read it."""
        instances = list(instances)
        return cls(proof=proof, instances=instances, correct=instances[-1] if instances else -1,
                   model_commitment=model_commitment_of(proof),
                   test_set_commitment=keccak(proof[:TEST_SET_BYTES]),
                   calldata=encode_calldata(proof, instances))

    def with_instances(self, instances: list[int]) -> "AccuracyProof":
        """The same proof bytes claiming other public instances (for checks and tests)."""
        return AccuracyProof.of(self.proof, instances)

    def with_proof(self, proof: bytes) -> "AccuracyProof":
        """Other proof bytes claiming the same instances (for checks and tests)."""
        return AccuracyProof.of(proof, self.instances)


def model_commitment_of(proof: bytes) -> int:
    """h_W as a proof states it: keccak256 of the weights' commitment, as a ``uint256``."""
    return int.from_bytes(keccak(proof[TEST_SET_BYTES:COMMITMENT_BYTES]), "big")


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


def _witness(circuit: Circuit, state_dict, x: np.ndarray, oh: np.ndarray, work: Path, *,
             commitments: bool = False) -> tuple[Path, Path]:
    """Compile the circuit with these weights (settings and keys are the cached ones) and run it.

    With ``commitments`` the witness also holds the KZG commitments of inputs and params.
    """
    onnx_path = export_statement(circuit.model, circuit.input_shape, circuit.num_classes, circuit.n,
                                 work / "statement.onnx", state_dict=state_dict)
    compiled = work / "statement.compiled"
    if not ezkl.compile_circuit(str(onnx_path), str(compiled), str(circuit.settings_path)):
        raise RuntimeError("ezkl compile_circuit failed")
    data = work / "input.json"
    data.write_text(json.dumps({"input_data": [x.reshape(-1).tolist(), oh.reshape(-1).tolist()]}))
    witness = work / "witness.json"
    keys = {"vk_path": str(circuit.vk_path), "srs_path": str(circuit.srs_path)} if commitments else {}
    ezkl.gen_witness(str(data), str(compiled), str(witness), **keys)
    return compiled, witness


def weights_commitment(circuit: Circuit, state_dict: Mapping[str, object]) -> int:
    """h_W: keccak256 of the KZG commitment of the weights quantised exactly as the circuit does.

    Recomputed from the weights with the circuit's verifying key and SRS (no proving key): the
    circuit is evaluated on an all-zero shard and the commitment of its params is read back.
    """
    check_srs(circuit)          # another SRS commits to the same weights differently
    zeros = np.zeros((circuit.n, *circuit.input_shape), dtype=np.float32)
    with _scratch(circuit) as work:
        _, witness = _witness(circuit, state_dict, zeros, np.zeros((circuit.n, circuit.num_classes),
                                                                   dtype=np.float32), work,
                              commitments=True)
        points = json.loads(witness.read_text())["processed_params"]["polycommit"]
    if [len(column) for column in points] != [1]:
        raise RuntimeError(f"unexpected weights commitment layout: {points!r}")
    return int.from_bytes(keccak(_ezkl.g1_bytes_from_compressed(points[0][0])), "big")


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
    if len(instances) != 1:
        raise RuntimeError(f"unexpected instance layout: {len(instances)} instances")
    return AccuracyProof.of(proof, instances)


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
    if (len(proof.instances) != 1 or proof.correct != proof.instances[0]
            or len(proof.proof) < COMMITMENT_BYTES
            or proof.model_commitment != model_commitment_of(proof.proof)
            or proof.test_set_commitment != keccak(proof.proof[:TEST_SET_BYTES])):
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


__all__ = ["AccuracyProof", "COMMITMENT_BYTES", "MODEL_BYTES", "TEST_SET_BYTES", "encode_calldata",
           "model_commitment_of", "prove_accuracy",
           "prove_certificate", "shards", "test_set_commitment", "test_set_commitments", "verify",
           "weights_commitment"]
