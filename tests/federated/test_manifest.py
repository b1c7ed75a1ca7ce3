import pytest

from zkpot.federated.manifest import TaskManifest
from zkpot.spec import preset


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
