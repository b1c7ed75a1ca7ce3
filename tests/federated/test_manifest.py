import json
from dataclasses import replace

import pytest

from zkpot.federated.manifest import TaskManifest
from zkpot.spec import preset
from zkpot.zk import CircuitParams


def manifest() -> TaskManifest:
    return TaskManifest(spec=preset("digits-mlp"), input_shape=(64,), num_classes=10, shard_size=16,
                        test_set_cid="bafkreitestset")


def test_round_trip_and_canonical_bytes():
    m = manifest()
    assert TaskManifest.decode(m.encode()) == m
    assert m.encode() == TaskManifest.decode(m.encode()).encode()


def test_model_factory_builds_the_spec_architecture():
    first = preset("digits-mlp").layers[0]
    state = manifest().model_factory()().state_dict()
    assert tuple(state["0.weight"].shape) == (first.out_features, first.in_features) == (16, 64)


def test_other_documents_are_refused():
    with pytest.raises(ValueError):
        TaskManifest.decode(b'{"format": "something-else"}')


def test_the_circuit_params_travel_with_the_task():
    lean = replace(CircuitParams(), freivalds=False)
    m = replace(manifest(), params=lean)
    assert TaskManifest.decode(m.encode()).params == lean
    assert json.loads(m.encode())["circuit_params"]["freivalds"] is False


def test_a_manifest_from_before_the_params_proves_with_the_defaults():
    raw = json.loads(manifest().encode())
    del raw["circuit_params"]
    raw["format"] = "zkpot-federated-task/1"
    assert TaskManifest.decode(json.dumps(raw).encode()).params == CircuitParams()


@pytest.mark.parametrize("params, reason", [
    ({"decomp_base": 2 ** 20}, "out of bounds"),        # a 2^20-row table on every participant
    ({"decomp_base": 3}, "out of bounds"),
    ({"decomp_legs": 40}, "out of bounds"),
    ({"decomp_base": 2 ** 16, "decomp_legs": 3}, "out of bounds"),   # |v| up to 2^48
    ({"num_inner_cols": 64}, "out of bounds"),
    ({"scale": 0}, "out of bounds"),
    ({"margin_steps": 0}, "out of bounds"),
    ({"scale": True}, "integer fields"),
    ({"freivalds": 1}, "integer fields"),
    ({"scale": 7.5}, "integer fields"),
    ({"lookup_range": [0, 1]}, "unknown fields"),
])
def test_hostile_circuit_params_in_a_manifest_are_refused(params, reason):
    raw = json.loads(manifest().encode())
    raw["circuit_params"].update(params)
    with pytest.raises(ValueError, match=reason):
        TaskManifest.decode(json.dumps(raw).encode())


def test_circuit_params_that_are_not_an_object_are_refused():
    raw = json.loads(manifest().encode())
    raw["circuit_params"] = [7]
    with pytest.raises(ValueError, match="not an object"):
        TaskManifest.decode(json.dumps(raw).encode())
