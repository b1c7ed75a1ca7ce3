"""zkpot.jobs without a chain: what prepare_job refuses (storing nothing) and where T is kept.

The chain is a stub here: these inputs are refused before it is asked (the chain side of job
creation runs against Anvil in tests/zkpot/test_job_preflight.py and tests/api)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from zkpot import curves, jobs, testsets
from zkpot.datasets import Dataset, demo_dataset, encode_chunk
from zkpot.spec import preset

TERMS = jobs.JobTerms(reward_per_declaration=1000, quorum=2, theta=0.5, deadline=int(time.time()) + 3600,
                      shard_size=16)     # wine's test split holds 36 samples
EMPLOYER = "0x" + "ab" * 20


class StubChain:
    """Records what it was asked; agrees to everything."""

    def __init__(self):
        self.asked = []

    chain_id = 31337

    def verifier_for(self, circuit) -> str:
        self.asked.append("verifier")
        return "0x" + "11" * 20

    def check_create(self, params) -> None:
        self.asked.append(params)


def _nothing_written(settings) -> bool:
    return not settings.state_dir.exists() or not any(p.is_file() for p in settings.state_dir.rglob("*"))


def test_spec_that_does_not_fit_is_refused_and_nothing_is_written(settings):
    with pytest.raises(jobs.JobInputError, match="spec does not fit the dataset"):
        jobs.prepare_job(settings, demo_dataset("wine"), preset("digits-mlp"), TERMS, EMPLOYER, StubChain())
    assert _nothing_written(settings)


def test_too_few_test_samples_for_a_shard_is_refused(settings):
    terms = jobs.JobTerms(**{**TERMS.__dict__, "shard_size": 64})
    with pytest.raises(jobs.JobInputError, match="fewer than one proof shard of 64"):
        jobs.prepare_job(settings, demo_dataset("wine"), preset("wine-mlp"), terms, EMPLOYER, StubChain())
    assert _nothing_written(settings)


@pytest.mark.zk
def test_circuit_over_the_row_limit_is_refused_and_nothing_is_written(settings, tmp_path):
    # wine-mlp over shards of 16 needs 2^14 rows; this deployment sets up at most 2^12
    limited = settings.model_copy(update={"max_logrows": 12, "circuit_dir": tmp_path / "circuits"})
    terms = jobs.JobTerms(**{**TERMS.__dict__, "shard_size": 16})
    refused = r"zk circuit: .*ZKPOT_MAX_LOGROWS.*use shards of at most \d+ samples"
    with pytest.raises(jobs.JobInputError, match=refused):
        jobs.prepare_job(limited, demo_dataset("wine"), preset("wine-mlp"), terms, EMPLOYER, StubChain())
    assert _nothing_written(settings)
    assert not [p for p in (tmp_path / "circuits").iterdir() if p.is_dir() and p.name != "tmp"]


def test_chain_is_asked_only_after_the_input_passed(settings):
    chain = StubChain()
    with pytest.raises(jobs.JobInputError):
        jobs.prepare_job(settings, demo_dataset("wine"), preset("digits-mlp"), TERMS, EMPLOYER, chain)
    assert chain.asked == []


@pytest.mark.parametrize("change,field", [
    ({"reward_per_declaration": 2**64}, "reward_per_declaration"), ({"bounty": 2**64}, "bounty"),
    ({"quorum": 256}, "quorum"), ({"quorum": 0}, "quorum"), ({"theta": 0.0}, "theta"),
    ({"deadline": 1}, "deadline"), ({"deadline": 2**40}, "deadline"),
    ({"shard_size": 1}, "shard_size"),            # 36 shards of 1: the contract takes 32
    ({"stage_flops": 1000}, "stage_flops"),       # one batch per stage: over ZKPOT_MAX_STAGES
])
def test_terms_the_contract_refuses_are_refused_first_and_nothing_is_written(settings, change, field):
    capped = settings.model_copy(update={"max_stages": 50})
    chain = StubChain()
    terms = jobs.JobTerms(**{**TERMS.__dict__, **change})
    with pytest.raises(jobs.JobInputError) as refused:
        jobs.prepare_job(capped, demo_dataset("wine"), preset("wine-mlp"), terms, EMPLOYER, chain)
    assert refused.value.field == field and field in str(refused.value)
    assert chain.asked == [] and _nothing_written(settings)


def test_an_epoch_count_that_makes_too_many_chunk_bytes_is_refused_without_allocating(settings):
    spec = preset("digits-mlp").model_copy(update={"epochs": 1000})
    small = settings.model_copy(update={"max_job_bytes": 10 * 1024 * 1024})
    terms = jobs.JobTerms(**{**TERMS.__dict__, "stage_flops": 10**15})
    with pytest.raises(jobs.JobInputError, match="ZKPOT_MAX_JOB_BYTES"):
        jobs.prepare_job(small, demo_dataset("digits"), spec, terms, EMPLOYER, StubChain())
    assert _nothing_written(settings)


def test_private_test_set_is_kept_per_employer_and_manifest_outside_the_store(settings):
    ds = demo_dataset("wine").subset(np.arange(16))
    mhash = bytes(range(32))
    held = testsets.keep(settings, EMPLOYER, mhash, ds, [b"shard zero", b"shard one"])
    assert settings.store_dir not in held.path.parents and oct(held.path.stat().st_mode & 0o777) == "0o600"
    assert oct(held.folder.parent.stat().st_mode & 0o777) == "0o700"
    back = testsets.load(testsets.find(settings, EMPLOYER, mhash))
    assert np.array_equal(back.features, ds.features) and np.array_equal(back.labels, ds.labels)
    assert encode_chunk(back) == encode_chunk(ds)
    assert testsets.load_shards(testsets.find(settings, EMPLOYER, mhash)) == [b"shard zero", b"shard one"]
    # another employer with the same manifest hash (a copy job) finds nothing
    with pytest.raises(jobs.TestSetNotHeld, match="no test set prepared by"):
        testsets.find(settings, "0x" + "cd" * 20, mhash)
    with pytest.raises(jobs.TestSetNotHeld):
        testsets.find(settings, EMPLOYER, bytes(32))


def test_union_keeps_each_training_sample_once():
    x = np.arange(12, dtype=np.float32).reshape(6, 2)
    y = np.array([0, 1, 0, 1, 0, 1])
    a, b = Dataset(x[:4], y[:4], 2, (2,)), Dataset(x[2:], y[2:], 2, (2,))
    u = curves._union([a, b, a])
    assert len(u) == 6 and np.array_equal(u.features, x) and np.array_equal(u.labels, y)
