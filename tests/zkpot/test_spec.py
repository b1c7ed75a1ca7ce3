"""Model spec: parsing, every validation error, the float module and presets."""

import copy
import json

import pytest
import torch

from zkpot.spec import PRESETS, ModelSpec, SpecError, build_model, preset

BASE = PRESETS["digits-mlp"]


def spec_with(**changes):
    data = copy.deepcopy(BASE)
    data.update(changes)
    return data


@pytest.mark.parametrize("data,msg", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "must be a JSON object"),
    (spec_with(layers=[{"type": "Lambda", "code": "import os"}]), r"layer 0: unknown layer type 'Lambda'"),
    (spec_with(layers=[{"type": "ReLU"}, {"type": "torch.nn.Linear"}]), "layer 1: unknown layer type"),
    (spec_with(layers=[]), "layers"),
    (spec_with(batch_size=1), "batch_size: Input should be greater than or equal to 2"),
    (spec_with(epochs=0), "epochs"),
    (spec_with(optimizer={"type": "rmsprop", "lr": 0.1}), "optimizer: unknown type 'rmsprop'"),
    (spec_with(optimizer={"type": "sgd", "lr": -1}), "lr"),
    (spec_with(optimizer={"type": "sgd", "lr": 0.1, "momentum": 1.5}), "momentum"),
    (spec_with(loss="mse"), "loss"),
    (spec_with(layers=[{"type": "Linear", "in_features": 64, "out_features": 10, "bias": "x"}]), "layer 0.bias"),
    (spec_with(layers=[{"type": "Linear", "in_features": 64, "out_features": 10**7}]), "out_features"),
    (spec_with(layers=[{"type": "Dropout", "p": 0.99}]), "p"),
    (spec_with(extra_field=1), "extra_field"),
    # shapes a layer list cannot have
    (spec_with(layers=5), "layers: must be a list of layer objects, got int"),
    (spec_with(layers={"type": "ReLU"}), "layers: must be a list"),
    (spec_with(layers=[3]), "layer 0: must be an object with a 'type', got int"),
    (spec_with(optimizer="sgd"), "optimizer: must be an object"),
    # every optimiser field bounded, with the reason
    (spec_with(optimizer={"type": "sgd", "lr": 1.5}), r"optimizer.lr: .*less than or equal to 1 \(.*2\^63"),
    (spec_with(optimizer={"type": "sgd", "lr": 1e-9}), r"optimizer.lr: .*greater than or equal to.*\(lr is held in Q24"),
    (spec_with(optimizer={"type": "sgd", "lr": 0.1, "momentum": 0.9999}), r"optimizer.momentum: .*0.999 \(.*2\^38"),
    (spec_with(optimizer={"type": "sgd", "lr": 0.1, "momentum": -0.1}), "optimizer.momentum"),
    (spec_with(optimizer={"type": "adam", "lr": 0.01, "betas": [5, -3]}), r"beta1 = 5.0 must be in \[0, 0.999\]"),
    (spec_with(optimizer={"type": "adam", "lr": 0.01, "betas": [1.0, 0.999]}), "beta1 = 1.0 must be in"),
    (spec_with(optimizer={"type": "adam", "lr": 0.01, "betas": [1.5, 0.999]}), "bias-corrected step"),
    (spec_with(optimizer={"type": "adam", "lr": 0.01, "betas": [0.9, -0.5]}), "beta2 = -0.5 .*second moment negative"),
    (spec_with(optimizer={"type": "adam", "lr": 0.01, "betas": [0.9, 1.0]}), r"beta2 = 1.0 must be in \[0, 0.99999\]"),
    (spec_with(optimizer={"type": "adam", "lr": 0.01, "betas": [0.9]}), "betas"),
    (spec_with(optimizer={"type": "adam", "lr": 2.0}), "optimizer.lr"),
    (spec_with(optimizer={"type": "adam", "lr": 0.01, "eps": 0}), "optimizer.eps: .*greater than 0 \(eps is added"),
    (spec_with(optimizer={"type": "adam", "lr": 0.01, "eps": 2}), "optimizer.eps"),
    (spec_with(optimizer={"type": "adam", "lr": float("nan")}), "optimizer.lr: Input should be a finite number"),
    (spec_with(optimizer={"type": "sgd", "lr": float("inf")}), "optimizer.lr: Input should be a finite number"),
    (spec_with(layers=[{"type": "Dropout", "p": float("nan")}]), "layer 0.p: Input should be a finite number"),
    (spec_with(batch_size=8192), r"batch_size: .*4096 \(at least 2"),
    (spec_with(seed=-1), "seed"),
    (spec_with(epochs=10**6), "epochs"),
])
def test_invalid_specs_are_refused_with_a_reason(data, msg):
    with pytest.raises(SpecError, match=msg):
        ModelSpec.from_json(data)


@pytest.mark.parametrize("layers,shape,classes,msg", [
    ([{"type": "Linear", "in_features": 63, "out_features": 10}], (64,), 10,
     r"layer 0 \(Linear\): in_features=63 but its input has 64 features"),
    ([{"type": "Linear", "in_features": 64, "out_features": 9}], (64,), 10, r"outputs shape \(9,\), expected \(10,\)"),
    ([{"type": "Linear", "in_features": 64, "out_features": 10}], (1, 8, 8), 10, "add a Flatten layer"),
    ([{"type": "Conv2d", "in_channels": 3, "out_channels": 4, "kernel_size": 3}], (1, 8, 8), 10,
     r"layer 0 \(Conv2d\): in_channels=3 but its input has 1 channels"),
    ([{"type": "Conv2d", "in_channels": 1, "out_channels": 4, "kernel_size": 9}], (1, 8, 8), 10, "does not fit"),
    ([{"type": "MaxPool2d", "kernel_size": 2}], (64,), 10, r"layer 0 \(MaxPool2d\): expects input"),
    ([{"type": "Linear", "in_features": 4096, "out_features": 4096}, {"type": "ReLU"},
      {"type": "Linear", "in_features": 4096, "out_features": 10}], (4096,), 10, "parameters, more than the limit"),
    ([{"type": "Linear", "in_features": 64, "out_features": 1}], (64,), 1, "num_classes"),
    ([{"type": "Flatten"}], (10,), 10, "no trainable layer"),
])
def test_shape_mismatches_name_the_layer(layers, shape, classes, msg):
    spec = ModelSpec.from_json(spec_with(layers=layers))
    with pytest.raises(SpecError, match=msg):
        spec.check_against(shape, classes)


def test_fan_in_limit():
    spec = ModelSpec.from_json(spec_with(layers=[
        {"type": "Conv2d", "in_channels": 64, "out_channels": 10, "kernel_size": 9}, {"type": "Flatten"}]))
    with pytest.raises(SpecError, match=r"layer 0 \(Conv2d\): fan-in 5184 exceeds"):
        spec.check_against((64, 9, 9), 10)


def test_spec_roundtrips_through_json():
    spec = preset("digits-cnn")
    assert ModelSpec.from_json(spec.model_dump_json()) == spec
    assert ModelSpec.from_json(spec.to_dict()) == spec


@pytest.mark.parametrize("name,shape", [("digits-mlp", (64,)), ("digits-cnn", (1, 8, 8)), ("wine-mlp", (13,)),
                                        ("digits28-mlp", (784,)), ("digits28-lenet", (1, 28, 28))])
def test_presets_build_float_modules(name, shape):
    spec = preset(name)
    classes = 3 if name == "wine-mlp" else 10
    spec.check_against(shape, classes)
    model = build_model(spec)
    assert model(torch.zeros(2, *shape)).shape == (2, classes)
    params = sum(p.numel() for p in model.parameters())
    assert params == spec.param_count(shape)


def test_unknown_preset():
    with pytest.raises(SpecError, match="unknown preset"):
        preset("resnet")


def test_every_preset_fits_its_demo_dataset_and_zk_shape():
    from zkpot.datasets import demo_dataset
    from zkpot.spec import PRESET_DATASETS
    from zkpot.zk.presets import PRESET_SHAPES

    for name, dataset in PRESET_DATASETS.items():
        ds = demo_dataset(dataset)
        preset(name).check_against(ds.input_shape, ds.num_classes)
        assert PRESET_SHAPES[name] == (ds.input_shape, ds.num_classes)


@pytest.mark.parametrize("optimizer", [
    {"type": "sgd", "lr": 1.0, "momentum": 0.999}, {"type": "sgd", "lr": 2.0**-24},
    {"type": "adam", "lr": 1.0, "betas": [0.999, 0.99999], "eps": 1.0}, {"type": "adam", "lr": 0.01, "betas": [0, 0]},
])
def test_the_bounds_themselves_are_valid(optimizer):
    assert ModelSpec.from_json(spec_with(optimizer=optimizer)).optimizer.lr == optimizer["lr"]


def test_a_nan_in_json_text_is_refused():
    text = json.dumps(spec_with(optimizer={"type": "sgd", "lr": 0.1})).replace("0.1", "NaN")
    with pytest.raises(SpecError, match="finite number"):
        ModelSpec.from_json(text)


@pytest.mark.parametrize("text", [b"[" * 20_000, '{"batch_size": ' + "9" * 5000 + "}", b'{"batch_size": "\xff"}'])
def test_json_no_parser_could_read_is_a_spec_error(text):
    # found by an attack: deep nesting, a 5,000-digit integer and bytes that are not UTF-8 raised
    # RecursionError, ValueError and UnicodeDecodeError instead of SpecError
    with pytest.raises(SpecError, match="not valid JSON"):
        ModelSpec.from_json(text)

