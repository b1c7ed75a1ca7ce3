"""Job creation refuses every bad input with a 4xx and its reason, and stores nothing."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from zkpot.spec import PRESETS

WINE = json.dumps(PRESETS["wine-mlp"])


def _csv(rows: list[list[float]]) -> bytes:
    return "\n".join(",".join(str(v) for v in r) for r in rows).encode()


def _wine_like(n: int = 20, features: int = 13) -> list[list[float]]:
    rng = np.random.default_rng(0)
    return [list(np.round(rng.normal(size=features), 3)) + [i % 3] for i in range(n)]


def _post(client, auth, *, spec=WINE, file=None, demo=None, **fields):
    data = {"spec": spec, "reward_per_declaration_wei": "1000", **fields}
    if demo:
        data["demo_dataset"] = demo
    files = {"dataset": file} if file else None
    return client.post("/api/jobs", data=data, files=files, headers=auth)


def _store_files(api_settings) -> list:
    root = api_settings.store_dir
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def _problem(r, status: int, *words: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    detail = r.json()["detail"]
    for w in words:
        assert w.lower() in detail.lower(), detail


def test_create_job_without_sign_in_is_401(client):
    _problem(_post(client, {}, demo="wine"), 401, "sign in")


def test_create_job_with_nan_in_features_is_422(client, auth, api_settings):
    rows = _wine_like()
    rows[3][2] = float("nan")
    _problem(_post(client, auth, file=("d.csv", _csv(rows), "text/csv")), 422, "NaN", "sample 3")
    assert _store_files(api_settings) == []


def test_create_job_with_wrong_input_width_is_422(client, auth, api_settings):
    rows = _wine_like(features=12)  # the wine spec's first Linear wants 13 features
    _problem(_post(client, auth, file=("d.csv", _csv(rows), "text/csv")), 422, "does not fit")
    assert _store_files(api_settings) == []


def test_create_job_with_ragged_csv_is_422(client, auth):
    body = _csv(_wine_like()) + b"\n1,2,3"
    _problem(_post(client, auth, file=("d.csv", body, "text/csv")), 422, "columns")


def test_create_job_with_unknown_layer_is_422(client, auth):
    spec = json.loads(WINE)
    spec["layers"].insert(1, {"type": "Lambda", "code": "import os"})
    _problem(_post(client, auth, spec=json.dumps(spec), demo="wine"), 422, "unknown layer type 'Lambda'")


@pytest.mark.parametrize("b", [1, 0])
def test_create_job_with_batch_below_two_is_422(client, auth, b):
    spec = dict(json.loads(WINE), batch_size=b)
    _problem(_post(client, auth, spec=json.dumps(spec), demo="wine"), 422, "batch_size")


@pytest.mark.parametrize("change,words", [
    ({"layers": 5}, ["layers: must be a list"]),
    ({"optimizer": {"type": "adam", "lr": 0.01, "betas": [5, -3]}}, ["beta1 = 5.0 must be in"]),
    ({"optimizer": {"type": "adam", "lr": 0.01, "betas": [0.9, 1.0]}}, ["beta2 = 1.0"]),
    ({"optimizer": {"type": "sgd", "lr": 5.0, "momentum": 0.9}}, ["optimizer.lr", "2^63"]),
])
def test_create_job_with_a_spec_the_stage_function_cannot_train_is_422(client, auth, api_settings, change, words):
    spec = dict(json.loads(WINE), **change)
    _problem(_post(client, auth, spec=json.dumps(spec), demo="wine"), 422, *words)
    assert _store_files(api_settings) == []


def test_create_job_with_spec_not_json_is_422(client, auth):
    _problem(_post(client, auth, spec="{layers: [", demo="wine"), 422, "not valid JSON")


def test_create_job_with_npz_labels_mismatch_is_422(client, auth):
    buf = io.BytesIO()
    np.savez(buf, x=np.zeros((10, 13), np.float32), y=np.zeros(9, np.int64))
    _problem(_post(client, auth, file=("d.npz", buf.getvalue(), "application/octet-stream")), 422,
             "10 feature rows but 9 labels")


def test_create_job_oversize_upload_is_413_and_stores_nothing(client, auth, api_settings):
    limit = api_settings.max_upload_bytes
    big = _csv(_wine_like(n=limit // 60 + 200))
    assert len(big) > limit
    _problem(_post(client, auth, file=("big.csv", big, "text/csv")), 413, str(limit))
    assert _store_files(api_settings) == []


def test_create_job_far_over_the_body_limit_is_refused_while_streaming(client, auth, api_settings):
    too_big = b"0," * (api_settings.max_upload_bytes * 8)
    r = _post(client, auth, file=("huge.csv", too_big, "text/csv"))
    assert r.status_code == 413
    assert _store_files(api_settings) == []


def test_create_job_unknown_demo_dataset_is_422(client, auth):
    _problem(_post(client, auth, demo="imagenet"), 422, "unknown demo dataset")


def test_create_job_needs_exactly_one_dataset(client, auth):
    _problem(_post(client, auth), 422, "exactly one")
    _problem(_post(client, auth, demo="wine", file=("d.csv", _csv(_wine_like()), "text/csv")), 422, "exactly one")


@pytest.mark.parametrize("field,value", [("quorum", "0"), ("theta", "1.5"), ("reward_per_declaration_wei", "-1"),
                                         ("deadline_s", "5")])
def test_create_job_bad_terms_are_422(client, auth, field, value):
    r = _post(client, auth, demo="wine", **{field: value})
    _problem(r, 422, field)
