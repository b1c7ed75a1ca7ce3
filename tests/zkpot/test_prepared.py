"""The ledger of prepared jobs (``zkpot.prepared``) against a real preparation and a real store:
what an expired preparation removes, and what it must never remove."""

from __future__ import annotations

import time

import numpy as np
import pytest

from zkpot import jobs, prepared, testsets
from zkpot.datasets import demo_dataset
from zkpot.spec import preset
from zkpot.storage import open_store
from tests.zkpot.test_jobs import TERMS, StubChain

EMPLOYER, OTHER = "0x" + "ab" * 20, "0x" + "cd" * 20


@pytest.fixture
def ledger_settings(settings, circuit_cache):
    return settings.model_copy(update={"circuit_dir": circuit_cache})


def _ledger(settings, clock, created=(), fresh=(True,)):
    return prepared.PreparedJobs(settings, lambda h, who: (h in created) if fresh[0] else None,
                                 clock=lambda: clock[0])


def test_an_expired_preparation_never_removes_what_a_preparation_in_progress_uses(ledger_settings):
    # found by an attack: a sweep that ran while another preparation of the same data was between
    # its check of what is stored and its record removed that preparation's chunks for good
    settings, clock = ledger_settings, [time.time()]
    ledger = _ledger(settings, clock)
    first = jobs.prepare_job(settings, demo_dataset("wine"), preset("wine-mlp"), TERMS, EMPLOYER, StubChain(),
                             ledger=ledger)
    store = open_store(settings)
    assert first.stored and all(store.has(c) for c in first.chunk_cids)
    # just before the first expires, another preparation of the same data is admitted: it will
    # find the chunks stored; then the first expires, and a third request sweeps
    clock[0] += settings.prepared_ttl_s - 1
    folder = testsets.private_dir(settings, OTHER, first.manifest_hash)
    in_progress = ledger.reserve(OTHER, [*first.chunk_cids, first.manifest_cid], folder)
    clock[0] += 2
    ledger.release(ledger.reserve(OTHER, [], folder))
    assert all(store.has(c) for c in first.chunk_cids) and store.has(first.manifest_cid)
    with pytest.raises(jobs.TestSetNotHeld):                    # the expired one's own test set goes
        testsets.find(settings, EMPLOYER, first.manifest_hash)
    ledger.release(in_progress)
    ledger.release(ledger.reserve(OTHER, [], folder))            # nothing uses them now: they go
    assert not any(store.has(c) for c in first.stored)


def test_a_preparation_whose_job_is_on_chain_is_kept_past_its_time(ledger_settings):
    settings, clock = ledger_settings, [time.time()]
    created: set[bytes] = set()
    ledger = _ledger(settings, clock, created)
    job = jobs.prepare_job(settings, demo_dataset("wine"), preset("wine-mlp"), TERMS, EMPLOYER, StubChain(),
                           ledger=ledger)
    assert job.expires_at == pytest.approx(clock[0] + settings.prepared_ttl_s, abs=5)
    created.add(job.manifest_hash)
    clock[0] += 10 * settings.prepared_ttl_s
    ledger.release(ledger.reserve(OTHER, [], testsets.private_dir(settings, OTHER, bytes(32))))
    store = open_store(settings)
    assert all(store.has(c) for c in job.chunk_cids) and store.has(job.manifest_cid)
    assert np.array_equal(testsets.load(testsets.find(settings, EMPLOYER, job.manifest_hash)).labels,
                          job.test_set.labels)


def test_a_wallet_over_its_pending_jobs_is_refused_before_anything_is_stored(ledger_settings):
    settings = ledger_settings.model_copy(update={"max_pending_jobs": 1})
    ledger = _ledger(settings, [time.time()])
    jobs.prepare_job(settings, demo_dataset("wine"), preset("wine-mlp"), TERMS, EMPLOYER, StubChain(), ledger=ledger)
    files = sorted(p for p in settings.state_dir.rglob("*") if p.is_file() and "prepared" not in p.parts)
    terms = jobs.JobTerms(**{**TERMS.__dict__, "theta": 0.6})
    with pytest.raises(jobs.JobsPending, match="ZKPOT_MAX_PENDING_JOBS"):
        jobs.prepare_job(settings, demo_dataset("wine"), preset("wine-mlp"), terms, EMPLOYER, StubChain(),
                         ledger=ledger)
    assert sorted(p for p in settings.state_dir.rglob("*") if p.is_file() and "prepared" not in p.parts) == files


def test_nothing_expires_while_the_chain_cannot_be_read_and_a_copy_by_another_wallet_is_not_created(
        ledger_settings):
    # found by an attack: a stale index (RPC down, a rebuild) let a created job's content expire,
    # and any wallet's copy of a created job's manifest counted as created, bounded by nothing
    settings, clock, fresh = ledger_settings, [time.time()], [True]
    created: set = set()
    ledger = prepared.PreparedJobs(settings, lambda h, who: ((h, who.lower()) in created) if fresh[0] else None,
                                   clock=lambda: clock[0])
    job = jobs.prepare_job(settings, demo_dataset("wine"), preset("wine-mlp"), TERMS, EMPLOYER, StubChain(),
                           ledger=ledger)
    fresh[0] = False                                             # the index cannot read the chain
    clock[0] += 10 * settings.prepared_ttl_s
    folder = testsets.private_dir(settings, OTHER, bytes(32))
    ledger.release(ledger.reserve(OTHER, [], folder))
    store = open_store(settings)
    assert all(store.has(c) for c in job.stored)
    fresh[0] = True
    created.add((job.manifest_hash, OTHER.lower()))              # the same manifest, another wallet's job
    ledger.release(ledger.reserve(OTHER, [], folder))
    assert not any(store.has(c) for c in job.stored)             # not EMPLOYER's job: it expired
