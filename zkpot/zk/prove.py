"""Commitments, proving and verification of the accuracy statement.

The one public instance is the count. The test set and the weights are bound by KZG
commitments that open the proof, 64 bytes (one G1 point) each: the two input tensors (features
at the circuit's scale, one-hot label rows as integers) first, then the certified weights. c_T
is ``keccak256`` of the first 128 bytes, h_W ``keccak256`` of the next 64 (as a ``uint256``).
The commitments carry no blinding, so both are recomputed from the integers alone
(``test_set_commitment``, ``weights_commitment``), without a witness or a proving key.

Every count reported here is the reference evaluator's (``zkpot.certified``): a proof is made
only when the circuit's witness agrees with it.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import ezkl
import numpy as np
from eth_abi import encode as abi_encode

from zkpot import certified as cm
from zkpot.hashing import keccak
from zkpot.zk import _ezkl
from zkpot.zk.circuit import Circuit, Weights, check_srs
from zkpot.zk.graph import INPUT_NAMES, with_weights
from zkpot.zk.srs import file_sha256

# each polycommit input (features, one-hot labels) opens the proof with one G1 point …
TEST_SET_BYTES = 64 * len(INPUT_NAMES)
# … and the weights (all params in one column) follow with one more
MODEL_BYTES = 64
COMMITMENT_BYTES = TEST_SET_BYTES + MODEL_BYTES
VERIFY_ACCURACY_SELECTOR = keccak(b"verifyAccuracy(bytes,uint256[])")[:4]


class WitnessMismatch(RuntimeError):
    """ezkl's witness disagrees with the certified model (a bug: nothing is proven then)."""


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


def input_data(X: np.ndarray, rows: np.ndarray) -> dict:
    """ezkl's input JSON: float32 features (ezkl quantises them), integer label rows."""
    return {"input_data": [np.asarray(X, dtype=np.float32).reshape(-1).tolist(),
                           np.asarray(rows, dtype=np.int64).reshape(-1).tolist()]}


def _shard(circuit: Circuit, X, y) -> tuple[np.ndarray, np.ndarray]:
    """A shard's features and one-hot label rows; refuses labels that are not one-hot."""
    X = np.asarray(X, dtype=np.float32).reshape((-1, *circuit.input_shape))
    rows = cm.labels_onehot(y, circuit.num_classes)
    if len(X) != circuit.n or len(rows) != circuit.n:
        raise ValueError(f"a shard holds exactly {circuit.n} samples, got {len(X)} / {len(rows)}")
    return X, rows


def shards(circuit: Circuit, X, y) -> list[tuple[np.ndarray, np.ndarray]]:
    """Split a test set into shards of the circuit's N (its size must be a multiple of N)."""
    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y)
    if len(X) != len(y) or len(X) == 0 or len(X) % circuit.n:
        raise ValueError(f"test set of {len(X)} samples is not a whole number of shards of {circuit.n}")
    return [(X[i:i + circuit.n], y[i:i + circuit.n]) for i in range(0, len(X), circuit.n)]


def _opening(paths: tuple[Path, Path, Path], scale: int, x: np.ndarray,
             rows: np.ndarray) -> bytes:
    return (_ezkl.commit_ints(cm.quantise_inputs(x, scale).reshape(-1), *paths)
            + _ezkl.commit_ints(np.asarray(rows, dtype=np.int64).reshape(-1), *paths))


def _weights_opening(paths: tuple[Path, Path, Path], order: list[str],
                     model: cm.CertifiedModel) -> bytes:
    values = np.concatenate([model.weights[name].reshape(-1) for name in order])
    return _ezkl.commit_ints(values, *paths)


def _paths(circuit: Circuit) -> tuple[Path, Path, Path]:
    return circuit.vk_path, circuit.settings_path, circuit.srs_path


def test_set_commitment(circuit: Circuit, X, y) -> bytes:
    """c_T of one shard: keccak256 of the KZG commitment bytes that open its proofs."""
    x, rows = _shard(circuit, X, y)
    check_srs(circuit)          # another SRS gives another c_T, one no manifest lists
    return keccak(_opening(_paths(circuit), circuit.params.scale, x, rows))


def test_set_commitments(circuit: Circuit, X, y) -> list[bytes]:
    """c_T of every shard, in order (what the manifest lists)."""
    return [test_set_commitment(circuit, xs, ys) for xs, ys in shards(circuit, X, y)]


def certify(circuit: Circuit, weights: Weights) -> cm.CertifiedModel:
    """The certified model (what a certificate of ``circuit`` certifies) of ``weights``: a float
    state dict, a PoT state (``TrainingState`` or bytes) or a ``CertifiedModel``."""
    return circuit.certify(weights)


def weights_commitment(circuit: Circuit, weights: Weights) -> int:
    """h_W of the certified model of ``weights`` (see ``certify``): keccak256 of the KZG
    commitment of its integer weights, from the verifying key and SRS (no proving key)."""
    model = circuit.certify(weights)
    check_srs(circuit)          # another SRS commits to the same weights differently
    opening = _weights_opening(_paths(circuit), circuit.info["param_order"], model)
    return int.from_bytes(keccak(opening), "big")


def matches_commitment(circuit: Circuit, weights: Weights, model_commitment: int) -> bool:
    """Whether ``weights`` (float, fixed point or certified) map to the certified model whose
    h_W is ``model_commitment`` (weights within a rounding of it do; others do not)."""
    try:
        return weights_commitment(circuit, weights) == int(model_commitment)
    except cm.CertificationError:
        return False


def reference_count(circuit: Circuit, weights: Weights, X, y) -> int:
    """The certified model's correct count on (X, y), as the circuit counts it (no ezkl)."""
    return cm.reference_count(circuit.certify(weights), X, y, circuit.margin_steps)


@contextmanager
def _scratch(circuit: Circuit):
    parent = circuit.dir.parent / "tmp"
    parent.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=f"{circuit.key}-", dir=parent))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _count_of(witness: dict) -> int:
    return _ezkl.felt_le_to_int(witness["outputs"][0][0])


def check_witness(work: Path, compiled: Path, srs: Path, manifest: dict,
                  model: cm.CertifiedModel, X, y, *, margin: int) -> None:
    """At setup: ezkl's witness on (X, y) must count what the reference counts and commit the
    inputs and params exactly as zkpot does, one G1 point each (raises ``WitnessMismatch``)."""
    rows = cm.labels_onehot(y, manifest["num_classes"])
    paths = (work / "vk.key", work / "settings.json", srs)
    witness_path = work / "check-witness.json"
    ezkl.gen_witness(str(work / "calibration.json"), str(compiled), str(witness_path),
                     vk_path=str(paths[0]), srs_path=str(srs))
    witness = json.loads(witness_path.read_text())
    witness_path.unlink()
    inputs = witness["processed_inputs"]["polycommit"]
    params = witness["processed_params"]["polycommit"]
    if [len(c) for c in inputs] != [1, 1] or [len(c) for c in params] != [1]:
        raise WitnessMismatch(f"commitments of (inputs, weights) {[len(c) for c in inputs]}, "
                              f"{[len(c) for c in params]}, expected [1, 1], [1]: a tensor outgrew "
                              f"one column of 2^logrows; use a smaller shard size")
    theirs = b"".join(_ezkl.g1_bytes_from_compressed(c[0]) for c in inputs)
    if theirs != _opening(paths, manifest["params"]["scale"], np.asarray(X), rows):
        raise WitnessMismatch("ezkl commits the test set differently from zkpot")
    if _ezkl.g1_bytes_from_compressed(params[0][0]) != \
            _weights_opening(paths, manifest["param_order"], model):
        raise WitnessMismatch("the circuit's params are not the certified weights alone")
    expected = cm.reference_count(model, X, rows, margin)
    if _count_of(witness) != expected:
        raise WitnessMismatch(f"the circuit counts {_count_of(witness)}, the certified model {expected}")


def _check_proving_witness(circuit: Circuit, model: cm.CertifiedModel, witness: dict,
                           expected: int) -> None:
    """Before proving: the witness must count what the reference counts and commit to the
    certified weights (a circuit compiled into another shape would not, and its proof would
    fail or never finish)."""
    params = witness["processed_params"]["polycommit"]
    if [len(c) for c in params] != [1] or _ezkl.g1_bytes_from_compressed(params[0][0]) != \
            _weights_opening(_paths(circuit), circuit.info["param_order"], model):
        raise WitnessMismatch("the compiled circuit does not commit to the certified weights")
    if _count_of(witness) != expected:
        raise WitnessMismatch(f"the circuit counts {_count_of(witness)}, the certified model {expected}")


def _compile_with(circuit: Circuit, model: cm.CertifiedModel, work: Path) -> Path:
    """The circuit compiled with these weights: the setup's ONNX with the certified weights in
    its initializers (``zkpot.zk.graph``; settings and keys are the cached ones)."""
    template = circuit.dir / "statement.onnx"
    if file_sha256(template) != circuit.info["files"][template.name]["sha256"]:
        # the proving key was made from this graph: another one would prove something else
        raise WitnessMismatch(f"circuit {circuit.key}: {template.name} is not the graph set up")
    onnx_path = with_weights(template, model.export_arrays(), work / "statement.onnx")
    compiled = work / "statement.compiled"
    if not ezkl.compile_circuit(str(onnx_path), str(compiled), str(circuit.settings_path)):
        raise RuntimeError("ezkl compile_circuit failed")
    return compiled


def prove_rows(circuit: Circuit, weights: Weights, X, rows: np.ndarray) -> AccuracyProof:
    """Prove one shard with integer label rows as given, one-hot or not (a row that is not
    counts 0). For checks and tests of the circuit itself; ``prove_accuracy`` takes labels and
    refuses rows that are not one-hot."""
    model = circuit.certify(weights)
    x = np.asarray(X, dtype=np.float32).reshape((-1, *circuit.input_shape))
    rows = np.asarray(rows, dtype=np.int64)
    if len(x) != circuit.n or rows.shape != (circuit.n, circuit.num_classes):
        raise ValueError(f"a shard holds exactly {circuit.n} samples")
    expected = cm.reference_count(model, x, rows, circuit.margin_steps)
    check_srs(circuit)          # a proof made with another SRS would be rejected on chain
    with _scratch(circuit) as work:
        compiled = _compile_with(circuit, model, work)
        data = work / "input.json"
        data.write_text(json.dumps(input_data(x, rows)))
        witness = work / "witness.json"
        ezkl.gen_witness(str(data), str(compiled), str(witness), vk_path=str(circuit.vk_path),
                         srs_path=str(circuit.srs_path))
        _check_proving_witness(circuit, model, json.loads(witness.read_text()), expected)
        proof_path = work / "proof.json"
        ezkl.prove(str(witness), str(compiled), str(circuit.pk_path), str(proof_path),
                   srs_path=str(circuit.srs_path))
        data = json.loads(proof_path.read_text())
    proof = bytes.fromhex(data["hex_proof"].removeprefix("0x"))
    instances = [_ezkl.felt_le_to_int(f) for f in data["instances"][0]]
    if instances != [expected]:
        raise WitnessMismatch(f"the proof states {instances}, the certified model counts {expected}")
    return AccuracyProof.of(proof, instances)


def prove_accuracy(circuit: Circuit, weights: Weights, X, y) -> AccuracyProof:
    """Prove how many of the shard's samples the certified model of ``weights`` classifies
    correctly (``weights``: float state dict, PoT state or ``CertifiedModel``)."""
    x, rows = _shard(circuit, X, y)
    return prove_rows(circuit, weights, x, rows)


def prove_certificate(circuit: Circuit, weights: Weights, X, y) -> list[AccuracyProof]:
    """One proof per shard of N; the certificate's count is the sum of theirs."""
    model = circuit.certify(weights)
    return [prove_accuracy(circuit, model, xs, ys) for xs, ys in shards(circuit, X, y)]


def _proof_json(proof: AccuracyProof) -> dict:
    le = [int(v).to_bytes(32, "little").hex() for v in proof.instances]
    return {"protocol": None, "instances": [le], "proof": list(proof.proof),
            "hex_proof": "0x" + proof.proof.hex(), "split": None, "pretty_public_inputs": None,
            "timestamp": None, "version": None}


def verify(circuit: Circuit, proof: AccuracyProof, *, model_commitment: int,
           test_set_commitment: bytes, min_correct: int | None = None) -> bool:
    """True when the SNARK verifies and proves the expected statement: the model committed by
    ``model_commitment`` (h_W) gets ``proof.correct`` (>= ``min_correct`` when given) of the
    shard committed by ``test_set_commitment`` (c_T) right. Both are required: a valid proof of
    another model or another test set verifies under its own commitments."""
    if model_commitment is None or test_set_commitment is None:
        raise TypeError("verify needs the expected model_commitment and test_set_commitment")
    if (len(proof.instances) != 1 or proof.correct != proof.instances[0]
            or len(proof.proof) < COMMITMENT_BYTES
            or proof.model_commitment != model_commitment_of(proof.proof)
            or proof.test_set_commitment != keccak(proof.proof[:TEST_SET_BYTES])):
        return False
    if proof.model_commitment != int(model_commitment):
        return False
    if proof.test_set_commitment != bytes(test_set_commitment):
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


__all__ = ["AccuracyProof", "COMMITMENT_BYTES", "MODEL_BYTES", "TEST_SET_BYTES", "WitnessMismatch",
           "certify", "encode_calldata", "matches_commitment", "model_commitment_of",
           "prove_accuracy", "prove_certificate", "prove_rows", "reference_count", "shards",
           "test_set_commitment", "test_set_commitments", "verify", "weights_commitment"]
