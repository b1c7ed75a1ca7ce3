"""Datasets: loaders, every validation error, seeded split, chunk encoding."""

import io

import numpy as np
import pytest

from zkpot.datasets import (DatasetError, decode_chunk, demo_dataset, encode_chunk, load_csv, load_npz, split,
                            validate)


def npz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def test_csv_label_column_by_name_or_last():
    named = load_csv(b"label,a,b\n1,0.5,2\n0,1,3\n")
    assert named.labels.tolist() == [1, 0] and named.features.tolist() == [[0.5, 2], [1, 3]]
    last = load_csv(b"0.5,2,1\n1,3,0\n")
    assert last.labels.tolist() == [1, 0] and last.input_shape == (2,) and last.num_classes == 2


def test_npz_both_naming_conventions():
    x, y = np.zeros((4, 1, 2, 2)), np.array([0, 1, 2, 1])
    assert load_npz(npz(x=x, y=y)).input_shape == (1, 2, 2)
    assert load_npz(npz(features=x, labels=y)).num_classes == 3


@pytest.mark.parametrize("loader,data,msg", [
    (load_csv, b"", "CSV is empty"),
    (load_csv, b"\xff\xfe", "not UTF-8"),
    (load_csv, b"1\n2\n", "at least one feature column"),
    (load_csv, b"1,2,0\n1,0\n", "row 2 has 2 columns, expected 3"),
    (load_csv, b"1,2,0\n1,x,1\n1,2,1\n", "row 2: could not convert"),
    (load_csv, b"1,nan,0\n1,2,1\n", "NaN or infinity"),
    (load_csv, b"1,2,0.5\n1,2,1\n", "labels must be integers"),
    (load_npz, b"not a zip", "not a readable NPZ"),
    (load_npz, npz(a=np.zeros(3)), "must hold arrays x/y"),
])
def test_loader_errors(loader, data, msg):
    with pytest.raises(DatasetError, match=msg):
        loader(data)


@pytest.mark.parametrize("x,y,classes,msg", [
    (np.array(["a", "b"]).reshape(2, 1), [0, 1], None, "numeric"),
    (np.zeros(3), [0, 1, 0], None, "samples"),
    (np.zeros((3, 2)), [[0], [1], [0]], None, "one-dimensional"),
    (np.zeros((3, 2)), [0, 1], None, "3 feature rows but 2 labels"),
    (np.zeros((1, 2)), [0], None, "at least 2 samples"),
    (np.array([[0.0], [np.inf]]), [0, 1], None, "NaN or infinity"),
    (np.array([[0.0], [5000.0]]), [0, 1], None, "standardise"),
    (np.zeros((2, 1)), [0, -1], None, "labels must be >= 0"),
    (np.zeros((2, 1)), [0, 0], None, "number of classes"),
    (np.zeros((2, 1)), [0, 3], 3, "label 3 out of range for 3 classes"),
    (np.zeros((2, 1)), np.array(["a", "b"]), None, "labels must be integers"),
])
def test_validation_errors(x, y, classes, msg):
    with pytest.raises(DatasetError, match=msg):
        validate(np.asarray(x), np.asarray(y), classes)


def test_split_is_seeded_and_disjoint():
    ds = demo_dataset("wine")
    train, test = split(ds, 0.25, seed=9)
    again, _ = split(ds, 0.25, seed=9)
    other, _ = split(ds, 0.25, seed=10)
    assert len(train) + len(test) == len(ds) and len(test) == round(len(ds) * 0.25)
    assert np.array_equal(train.features, again.features)
    assert not np.array_equal(train.features, other.features)
    rows = {r.tobytes() for r in train.features}
    assert not any(r.tobytes() in rows for r in test.features)
    with pytest.raises(DatasetError, match="test_fraction"):
        split(ds, 1.5, 0)


def test_demo_datasets():
    assert demo_dataset("digits").input_shape == (64,)
    images = demo_dataset("digits-images")
    assert images.input_shape == (1, 8, 8) and float(images.features.max()) == 1.0
    with pytest.raises(DatasetError, match="unknown demo dataset"):
        demo_dataset("imagenet")


def test_digits28_are_the_digits_upsampled_exactly():
    small, flat, big = demo_dataset("digits-images"), demo_dataset("digits28"), demo_dataset("digits28-images")
    assert flat.input_shape == (784,) and big.input_shape == (1, 28, 28) and len(big) == len(small) == 1797
    assert np.array_equal(flat.labels, small.labels) and np.array_equal(big.features.reshape(len(big), -1), flat.features)
    img = big.features[:, 0]
    assert not img[:, :2].any() and not img[:, -2:].any() and not img[:, :, :2].any() and not img[:, :, -2:].any()
    for i, j in ((0, 0), (3, 5), (7, 7)):                       # each pixel is a 3x3 block, values unchanged
        block = img[:, 2 + 3 * i:5 + 3 * i, 2 + 3 * j:5 + 3 * j]
        assert np.array_equal(block, np.broadcast_to(small.features[:, 0, i, j, None, None], block.shape))
    assert demo_dataset("digits28").features.tobytes() == flat.features.tobytes()     # deterministic


def test_chunk_encoding_roundtrip_and_errors():
    ds = demo_dataset("digits-images").subset(np.arange(10))
    data = encode_chunk(ds)
    back = decode_chunk(data)
    assert np.array_equal(back.features, ds.features) and np.array_equal(back.labels, ds.labels)
    assert encode_chunk(back) == data
    with pytest.raises(DatasetError, match="magic"):
        decode_chunk(b"xx" + data)
    with pytest.raises(DatasetError, match="chunk body"):
        decode_chunk(data[:-1])


@pytest.mark.parametrize("header, msg", [
    (b'{"features":"<f4","input_shape":[64],"labels":"<i4","n":10}', "bad chunk header"),        # no num_classes
    (b'{"features":"<f4","input_shape":[-1,-64],"labels":"<i4","n":10,"num_classes":10}', "positive integers"),
    (b'{"features":"<f4","input_shape":[64.0],"labels":"<i4","n":10,"num_classes":10}', "positive integers"),
    (b'{"features":"<f4","input_shape":["64"],"labels":"<i4","n":10,"num_classes":10}', "positive integers"),
    (b'{"features":"<f4","input_shape":[64],"labels":"<i4","n":10,"num_classes":1e400}', "positive integers"),
    (b'{"features":"<f8","input_shape":[64],"labels":"<i4","n":10,"num_classes":10}', "'<f4'"),
    (b'{"input_shape":[64],"n":10,"num_classes":10,"features":"<f4","labels":"<i4"}', "not canonical"),
    (b'{"features":"<f4","input_shape":[64],"labels":"<i4","n":10,"num_classes":1001}', "beyond the limits"),
    (b"[" * 20_000, "bad chunk header"),
    (b"5", "bad chunk header"),
])
def test_a_hostile_chunk_header_is_a_dataset_error(header, msg):
    # found by an attack: bare KeyError, TypeError and OverflowError, which a node counted as a
    # training failure instead of a bad chunk
    ds = demo_dataset("digits").subset(np.arange(10))
    data = encode_chunk(ds)
    body = data[data.index(b"\n", 8) + 1:]
    with pytest.raises(DatasetError, match=msg):
        decode_chunk(data[:8] + header + b"\n" + body)
