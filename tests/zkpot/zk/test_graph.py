"""Proving without torch: a proof compiles the setup's ONNX with the certified weights written
into its initializers, the same bytes as exporting the statement again, and a process that only
proves (a spec's cached circuit, a PoT state, a shard) never loads torch."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from tests.zkpot.zk.conftest import CLASSES, DEGENERATE, FEATURES, N, SMALL, tiny_model
from zkpot import zk
from zkpot.config import PROJECT_ROOT
from zkpot.pot.state import TrainingState
from zkpot.spec import ModelSpec
from zkpot.zk.circuit import alias_path
from zkpot.zk.graph import with_weights
from zkpot.zk.statement import export_statement

TINY_SPEC = {"layers": [{"type": "Linear", "in_features": FEATURES, "out_features": 8},
                        {"type": "ReLU"}, {"type": "Linear", "in_features": 8, "out_features": CLASSES}],
             "optimizer": {"type": "sgd", "lr": 0.1}, "batch_size": 4, "epochs": 1, "seed": 3}


@pytest.mark.parametrize("weights", [tiny_model(5).state_dict(), *DEGENERATE.values()],
                         ids=["trained-like", *DEGENERATE])
def test_the_template_with_weights_is_the_export_with_them(circuit, weights, tmp_path):
    certified = zk.certify(circuit, weights)
    exported = export_statement(circuit.model, circuit.input_shape, circuit.num_classes, circuit.n,
                                tmp_path / "export.onnx", certified.export_state_dict(),
                                logit_scale=certified.logit_scale, margin_steps=circuit.margin_steps)
    written = with_weights(circuit.dir / "statement.onnx", certified.export_arrays(),
                           tmp_path / "written.onnx")
    assert written.read_bytes() == exported.read_bytes()


def test_weights_that_do_not_fit_the_template_are_refused(circuit, tmp_path):
    arrays = zk.certify(circuit, tiny_model(1).state_dict()).export_arrays()
    template = circuit.dir / "statement.onnx"
    for bad, why in [({k: v for k, v in arrays.items() if k != "2.bias"}, "do not match"),
                     ({**arrays, "9.weight": arrays["2.bias"]}, "do not match"),
                     ({**arrays, "2.bias": np.zeros(CLASSES + 1, np.float32)}, "does not fit"),
                     ({**arrays, "2.bias": arrays["2.bias"].astype(np.float64)}, "does not fit")]:
        with pytest.raises(ValueError, match=why):
            with_weights(template, bad, tmp_path / "bad.onnx")


PROVE_ALONE = """
import json, sys
from pathlib import Path
from zkpot.config import Settings
from zkpot.spec import ModelSpec
from zkpot import zk
args = json.loads(sys.argv[1])
settings = Settings.from_env(environ={}, state_dir=args["state_dir"], circuit_dir=args["circuit_dir"])
circuit = zk.spec_circuit(ModelSpec.from_json(args["spec"]), (args["features"],), args["classes"],
                          args["n"], settings, params=zk.CircuitParams(**args["params"]))
data = json.loads(Path(args["data"]).read_text())
proof = zk.prove_accuracy(circuit, bytes.fromhex(data["state"]), data["X"], data["y"])
print(json.dumps({"proof": proof.proof.hex(), "instances": proof.instances,
                  "torch": "torch" in sys.modules}))
"""


def test_a_process_that_only_proves_never_loads_torch(zk_settings, test_set, tmp_path):
    """The first ``spec_circuit`` (here, with torch) records the spec's circuit; a fresh process
    then finds it, certifies a PoT state and proves a shard without importing torch, and the
    proof verifies with the count the reference evaluator gives."""
    spec = ModelSpec.from_json(TINY_SPEC)
    made = zk.spec_circuit(spec, (FEATURES,), CLASSES, N, zk_settings, params=SMALL)
    again = zk.spec_circuit(spec, (FEATURES,), CLASSES, N, zk_settings, params=SMALL)
    assert (again.key, again.plan, again.created) == (made.key, made.plan, False)
    float_weights = tiny_model(2).state_dict()
    state = TrainingState({k: np.round(v.double().numpy() * 2 ** 20).astype(np.int64)
                           for k, v in float_weights.items()})
    X, y = test_set[0][:N], test_set[1][:N]
    data = tmp_path / "shard.json"
    data.write_text(json.dumps({"state": state.to_bytes().hex(), "X": X.tolist(), "y": y.tolist()}))
    args = {"state_dir": str(tmp_path / "state"), "circuit_dir": str(zk_settings.circuits_dir),
            "spec": json.dumps(TINY_SPEC), "features": FEATURES, "classes": CLASSES, "n": N,
            "params": {"decomp_base": SMALL.decomp_base, "decomp_legs": SMALL.decomp_legs,
                       "freivalds": SMALL.freivalds}, "data": str(data)}
    out = subprocess.run([sys.executable, "-c", PROVE_ALONE, json.dumps(args)], cwd=PROJECT_ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["torch"] is False
    proof = zk.AccuracyProof.of(bytes.fromhex(result["proof"]), result["instances"])
    expected = zk.reference_count(made, state, X, y)
    assert proof.correct == expected
    assert zk.verify(made, proof, model_commitment=zk.weights_commitment(made, state),
                     test_set_commitment=zk.test_set_commitment(made, X, y))
    # the state's float weights are the same certified model
    assert zk.weights_commitment(made, {k: torch.as_tensor(v) / 2 ** 20 for k, v in state.params.items()}) \
        == proof.model_commitment


def test_an_alias_that_names_another_circuit_is_not_followed(zk_settings, circuit):
    """A stale or edited record (another circuit's key, another plan) is ignored: the circuit
    is found the torch way, and the record is written again."""
    spec = ModelSpec.from_json({**TINY_SPEC, "seed": 11})
    made = zk.spec_circuit(spec, (FEATURES,), CLASSES, N, zk_settings, params=SMALL)
    record = alias_path(zk_settings, spec, (FEATURES,), CLASSES, N, SMALL)
    assert json.loads(record.read_text())["key"] == made.key
    other = zk.spec_circuit(ModelSpec.from_json(TINY_SPEC), (FEATURES,), CLASSES, 2 * N,
                            zk_settings, params=SMALL)          # another N: another circuit
    for forged in ({"key": other.key, "plan": json.loads(record.read_text())["plan"]},
                   {"key": made.key, "plan": [{"kind": "linear", "name": "7"}]},
                   {"key": "../" + made.key, "plan": json.loads(record.read_text())["plan"]}):
        record.write_text(json.dumps(forged))
        again = zk.spec_circuit(spec, (FEATURES,), CLASSES, N, zk_settings, params=SMALL)
        assert (again.key, again.plan, again.n) == (made.key, made.plan, N)
        assert json.loads(record.read_text())["key"] == made.key


def test_a_template_changed_since_setup_is_refused_before_proving(circuit, test_set, tmp_path):
    """The proving key was made from the setup's graph: a proof never compiles another one (here
    one byte of a weight's raw data changed, same size, so the cheap size check passes)."""
    import dataclasses
    import shutil

    copy = tmp_path / circuit.key
    shutil.copytree(circuit.dir, copy)
    template = copy / "statement.onnx"
    data = bytearray(template.read_bytes())
    data[-200] ^= 1
    template.write_bytes(bytes(data))
    edited = dataclasses.replace(circuit, dir=copy)
    X, y = test_set
    with pytest.raises(zk.WitnessMismatch, match="not the graph set up"):
        zk.prove_accuracy(edited, tiny_model(1).state_dict(), X[:N], y[:N])
    assert list((tmp_path / "tmp").iterdir()) == []       # its scratch folder is gone too
