"""zkpot.jobs without a chain: what prepare_job refuses (storing nothing) and where T is kept."""

from __future__ import annotations

import time

import numpy as np
import pytest

from zkpot import jobs
from zkpot.datasets import Dataset, demo_dataset, encode_chunk
from zkpot.spec import preset

TERMS = jobs.JobTerms(reward_per_stage=1000, quorum=2, theta=0.5, deadline=int(time.time()) + 3600)


def _nothing_written(settings) -> bool:
    return not settings.state_dir.exists() or not any(p.is_file() for p in settings.state_dir.rglob("*"))


def test_spec_that_does_not_fit_is_refused_and_nothing_is_written(settings):
    with pytest.raises(jobs.JobInputError, match="spec does not fit the dataset"):
        jobs.prepare_job(settings, demo_dataset("wine"), preset("digits-mlp"), TERMS, "0x" + "11" * 20)
    assert _nothing_written(settings)


def test_too_few_test_samples_for_a_shard_is_refused(settings):
    terms = jobs.JobTerms(**{**TERMS.__dict__, "shard_size": 64})
    with pytest.raises(jobs.JobInputError, match="fewer than one proof shard of 64"):
        jobs.prepare_job(settings, demo_dataset("wine"), preset("wine-mlp"), terms, "0x" + "11" * 20)
    assert _nothing_written(settings)


@pytest.mark.zk
def test_circuit_over_the_row_limit_is_refused_and_nothing_is_written(settings, tmp_path):
    # wine-mlp over shards of 16 needs 2^14 rows; this deployment sets up at most 2^12
    limited = settings.model_copy(update={"max_logrows": 12, "circuit_dir": tmp_path / "circuits"})
    terms = jobs.JobTerms(**{**TERMS.__dict__, "shard_size": 16})
    refused = r"zk circuit: .*ZKPOT_MAX_LOGROWS.*use shards of at most \d+ samples"
    with pytest.raises(jobs.JobInputError, match=refused):
        jobs.prepare_job(limited, demo_dataset("wine"), preset("wine-mlp"), terms, "0x" + "11" * 20)
    assert _nothing_written(settings)
    assert not [p for p in (tmp_path / "circuits").iterdir() if p.is_dir() and p.name != "tmp"]


def test_verifier_is_asked_for_only_after_the_input_passed(settings):
    asked = []
    with pytest.raises(jobs.JobInputError):
        jobs.prepare_job(settings, demo_dataset("wine"), preset("digits-mlp"), TERMS,
                         lambda: asked.append(1) or "0x" + "11" * 20)
    assert asked == []


def test_private_test_set_round_trip_outside_the_store(settings):
    ds = demo_dataset("wine").subset(np.arange(16))
    mhash = bytes(range(32))
    path = jobs.private_dir(settings, mhash) / jobs.TEST_SET_FILE
    jobs._write_private(path, ds)
    assert settings.store_dir not in path.parents and oct(path.stat().st_mode & 0o777) == "0o600"
    back = jobs.load_private_test_set(settings, mhash)
    assert np.array_equal(back.features, ds.features) and np.array_equal(back.labels, ds.labels)
    assert encode_chunk(back) == encode_chunk(ds)
    with pytest.raises(jobs.TestSetNotHeld, match="not held here"):
        jobs.load_private_test_set(settings, bytes(32))


def test_union_keeps_each_training_sample_once():
    x = np.arange(12, dtype=np.float32).reshape(6, 2)
    y = np.array([0, 1, 0, 1, 0, 1])
    a, b = Dataset(x[:4], y[:4], 2, (2,)), Dataset(x[2:], y[2:], 2, (2,))
    u = jobs._union([a, b, a])
    assert len(u) == 6 and np.array_equal(u.features, x) and np.array_equal(u.labels, y)
