"""A cached circuit stays tied to the SRS it was set up with; a local SRS serves dev chains only."""

from __future__ import annotations

import dataclasses

import ezkl
import pytest

from zkpot import zk
from zkpot.config import Settings
from zkpot.zk.evm import generate_verifier
from zkpot.zk.srs import LocalSrsRefused, SrsMismatch, file_sha256

from .conftest import CLASSES, FEATURES, N, SMALL

pytestmark = pytest.mark.zk


@pytest.fixture(scope="module")
def other_srs(tmp_path_factory, circuit):
    """A second SRS of the circuit's size (gen_srs draws fresh randomness: other points)."""
    path = tmp_path_factory.mktemp("other-srs") / f"kzg{circuit.logrows}.srs"
    ezkl.gen_srs(str(path), circuit.logrows)
    return path


def test_setup_records_the_srs(circuit):
    assert circuit.info["srs"] == {"sha256": file_sha256(circuit.srs_path),
                                   "logrows": circuit.logrows, "origin": "local"}


def test_loading_with_another_srs_names_both_hashes_and_the_remedy(zk_settings, model, circuit,
                                                                   other_srs):
    swapped = Settings.from_env(environ={}, state_dir=zk_settings.state_dir,
                                circuit_dir=zk_settings.circuit_dir, srs_path=other_srs)
    with pytest.raises(SrsMismatch) as refused:
        zk.ensure_circuit(model, (FEATURES,), CLASSES, N, swapped, params=SMALL)
    message = str(refused.value)
    assert circuit.info["srs"]["sha256"] in message and file_sha256(other_srs) in message
    assert "ZKPOT_SRS_PATH" in message and str(circuit.dir) in message
    # the cached circuit is untouched and still loads with its own SRS
    assert not zk.ensure_circuit(model, (FEATURES,), CLASSES, N, zk_settings, params=SMALL).created


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


@pytest.mark.parametrize("chain_id", [1, 10, 8453])
def test_local_srs_is_refused_for_a_chain_that_is_not_a_development_chain(zk_settings, model,
                                                                          circuit, chain_id):
    with pytest.raises(LocalSrsRefused) as refused:        # the cached circuit, for that chain
        zk.ensure_circuit(model, (FEATURES,), CLASSES, N, zk_settings, chain_id=chain_id, params=SMALL)
    assert "ZKPOT_SRS_PATH" in str(refused.value) and str(chain_id) in str(refused.value)
    on_chain = zk_settings.model_copy(update={"chain_id": chain_id})
    with pytest.raises(LocalSrsRefused):                   # ZKPOT_CHAIN_ID, and a new setup
        zk.ensure_circuit(model, (FEATURES,), CLASSES, 2 * N, on_chain, params=SMALL)
    assert not [p for p in zk_settings.circuits_dir.iterdir() if ".partial" in p.name]


@pytest.mark.parametrize("chain_id", [31337, 1337, None])
def test_local_srs_serves_development_chains_and_offline_work(zk_settings, model, chain_id):
    assert not zk.ensure_circuit(model, (FEATURES,), CLASSES, N, zk_settings, chain_id=chain_id,
                                 params=SMALL).created


def test_a_ceremony_srs_is_loaded_from_its_folder(zk_settings, model, tmp_path, circuit):
    """ZKPOT_SRS_PATH: a folder of kzg<k>.srs files (one per size, as ceremonies publish them)."""
    ceremony = tmp_path / "ceremony"
    ceremony.mkdir()
    ezkl.gen_srs(str(ceremony / f"kzg{circuit.logrows}.srs"), circuit.logrows)
    ezkl.gen_srs(str(ceremony / f"kzg{circuit.logrows + 1}.srs"), circuit.logrows + 1)
    settings = Settings.from_env(environ={}, state_dir=tmp_path / "state",
                                 circuit_dir=tmp_path / "circuits", srs_path=ceremony)
    made = zk.ensure_circuit(model, (FEATURES,), CLASSES, N, settings, chain_id=1, params=SMALL)
    assert made.srs_origin == "file" and made.srs_path == ceremony / f"kzg{circuit.logrows}.srs"
    assert made.info["srs"]["sha256"] == file_sha256(made.srs_path)
    # a single file must be of the circuit's size
    wrong = settings.model_copy(update={"srs_path": ceremony / f"kzg{circuit.logrows + 1}.srs"})
    with pytest.raises(ValueError, match="exactly"):
        zk.ensure_circuit(model, (FEATURES,), CLASSES, N, wrong, chain_id=1, params=SMALL)
    # and without it, the circuit says what it needs
    with pytest.raises(SrsMismatch, match="ZKPOT_SRS_PATH"):
        zk.ensure_circuit(model, (FEATURES,), CLASSES, N,
                          settings.model_copy(update={"srs_path": None}), params=SMALL)


def test_circuit_over_the_row_limit_is_refused_with_the_shard_size_that_fits(zk_settings, model,
                                                                             circuit):
    limited = zk_settings.model_copy(update={"max_logrows": circuit.logrows - 1})
    with pytest.raises(zk.CircuitTooLarge) as refused:
        zk.ensure_circuit(model, (FEATURES,), CLASSES, 4 * N, limited, params=SMALL)  # more rows than N's
    err = refused.value
    assert err.logrows > limited.max_logrows and err.rows > 2 ** limited.max_logrows
    assert f"2^{limited.max_logrows}" in str(err) and "ZKPOT_MAX_LOGROWS" in str(err)
    assert 1 <= err.fitting_n < 4 * N and f"at most {err.fitting_n} samples" in str(err)
    # nothing half-built is left in the cache, and the shard size it names does fit
    assert not [p for p in zk_settings.circuits_dir.iterdir() if ".partial" in p.name]
    fitting = zk.ensure_circuit(model, (FEATURES,), CLASSES, err.fitting_n, limited, params=SMALL)
    assert fitting.logrows <= limited.max_logrows
