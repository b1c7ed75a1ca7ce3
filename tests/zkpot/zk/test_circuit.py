"""A cached circuit stays tied to the SRS it was set up with: another SRS is refused, clearly."""

from __future__ import annotations

import dataclasses

import ezkl
import pytest

from zkpot import zk
from zkpot.config import Settings
from zkpot.zk.circuit import SrsMismatch, file_sha256
from zkpot.zk.evm import generate_verifier

from .conftest import CLASSES, FEATURES, N

pytestmark = pytest.mark.zk


@pytest.fixture(scope="module")
def other_srs(tmp_path_factory, circuit):
    """A second SRS of the circuit's size (gen_srs draws fresh randomness: other points)."""
    path = tmp_path_factory.mktemp("other-srs") / f"kzg{circuit.logrows}.srs"
    ezkl.gen_srs(str(path), circuit.logrows)
    return path


def test_setup_records_the_srs(circuit):
    assert circuit.info["srs"] == {"sha256": file_sha256(circuit.srs_path),
                                   "logrows": circuit.logrows}


def test_loading_with_another_srs_names_both_hashes_and_the_remedy(zk_settings, model, circuit,
                                                                   other_srs):
    swapped = Settings.from_env(environ={}, state_dir=zk_settings.state_dir,
                                circuit_dir=zk_settings.circuit_dir, srs_path=other_srs)
    with pytest.raises(SrsMismatch) as refused:
        zk.ensure_circuit(model, (FEATURES,), CLASSES, N, swapped)
    message = str(refused.value)
    assert circuit.info["srs"]["sha256"] in message and file_sha256(other_srs) in message
    assert "ZKPOT_SRS_PATH" in message and str(circuit.dir) in message
    # the cached circuit is untouched and still loads with its own SRS
    assert not zk.ensure_circuit(model, (FEATURES,), CLASSES, N, zk_settings).created


def test_proving_and_verifier_generation_refuse_another_srs(circuit, model, test_set, other_srs,
                                                            tmp_path):
    paired = dataclasses.replace(circuit, srs_path=other_srs)
    X, y = test_set
    with pytest.raises(SrsMismatch):
        zk.prove_accuracy(paired, model.state_dict(), X[:N], y[:N])
    with pytest.raises(SrsMismatch):
        zk.test_set_commitment(paired, X[:N], y[:N])
    with pytest.raises(SrsMismatch):
        zk.weights_commitment(paired, model.state_dict())
    with pytest.raises(SrsMismatch):
        generate_verifier(paired, tmp_path)
    assert not list(tmp_path.iterdir())


def test_circuit_over_the_row_limit_is_refused_with_the_shard_size_that_fits(zk_settings, model,
                                                                             circuit):
    limited = zk_settings.model_copy(update={"max_logrows": circuit.logrows - 1})
    with pytest.raises(zk.CircuitTooLarge) as refused:
        zk.ensure_circuit(model, (FEATURES,), CLASSES, 4 * N, limited)  # more rows than N's
    err = refused.value
    assert err.logrows > limited.max_logrows and err.rows > 2 ** limited.max_logrows
    assert f"2^{limited.max_logrows}" in str(err) and "ZKPOT_MAX_LOGROWS" in str(err)
    assert 1 <= err.fitting_n < 4 * N and f"at most {err.fitting_n} samples" in str(err)
    # nothing half-built is left in the cache, and the shard size it names does fit
    assert not [p for p in zk_settings.circuits_dir.iterdir() if ".partial" in p.name]
    fitting = zk.ensure_circuit(model, (FEATURES,), CLASSES, err.fitting_n, limited)
    assert fitting.logrows <= limited.max_logrows
