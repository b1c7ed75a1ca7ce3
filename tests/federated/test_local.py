import numpy as np
import torch

from zkpot.datasets import demo_dataset
from zkpot.federated.local import (Behaviour, LocalTraining, count_correct, flip_labels,
                                   make_update)
from zkpot.spec import ModelSpec, build_model

SPEC = ModelSpec.from_json({
    "layers": [{"type": "Linear", "in_features": 64, "out_features": 16}, {"type": "ReLU"},
               {"type": "Linear", "in_features": 16, "out_features": 10}],
    "optimizer": {"type": "sgd", "lr": 0.05}, "batch_size": 16, "epochs": 1, "seed": 0,
})


def factory():
    return build_model(SPEC)


def data():
    ds = demo_dataset("digits")
    return ds.features[:600], ds.labels[:600], ds.features[1500:], ds.labels[1500:]


def test_flip_labels_maps_every_class_away_from_itself():
    y = np.arange(10)
    assert np.all(flip_labels(y, 10) != y)
    assert np.array_equal(flip_labels(flip_labels(y, 10), 10), y)


def test_honest_training_beats_both_attacks_on_held_out_data():
    X, y, Xt, yt = data()
    torch.manual_seed(0)
    start = factory().state_dict()
    counts = {}
    for behaviour in Behaviour:
        update = make_update(behaviour, factory, start, X, y, 10, LocalTraining(epochs=5))
        counts[behaviour] = count_correct(factory, update, Xt, yt)
    assert counts[Behaviour.honest] > 0.8 * len(yt)
    assert counts[Behaviour.label_flip] < 0.3 * len(yt)
    assert counts[Behaviour.random_weights] < 0.3 * len(yt)


def test_local_training_is_reproducible_and_leaves_the_global_state_alone():
    X, y, _, _ = data()
    torch.manual_seed(0)
    start = factory().state_dict()
    snapshot = {k: v.clone() for k, v in start.items()}
    a = make_update(Behaviour.honest, factory, start, X, y, 10, LocalTraining(epochs=1, seed=4))
    b = make_update(Behaviour.honest, factory, start, X, y, 10, LocalTraining(epochs=1, seed=4))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert all(torch.equal(start[k], snapshot[k]) for k in start)
    assert not torch.equal(a["0.weight"], start["0.weight"])
