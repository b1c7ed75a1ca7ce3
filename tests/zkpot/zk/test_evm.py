"""The accuracy proofs checked on Anvil by EzklAccuracyVerifier, over ezkl's single-circuit and
reusable verifiers (the ``adapter`` fixture runs every test with each)."""

from __future__ import annotations

import dataclasses

import ezkl
import pytest

from zkpot import zk
from zkpot.chain import ChainClient, ContractError
from zkpot.config import Settings
from zkpot.devnet import Anvil, dev_private_keys
from zkpot.zk.evm import (ADAPTER_NAME, EIP170_LIMIT, check_verifier, deploy_accuracy_verifier,
                          srs_hash, vka_hash)
from zkpot.zk.prove import COMMITMENT_BYTES, TEST_SET_BYTES
from zkpot.zk.srs import LocalSrsRefused

from .conftest import CLASSES, FEATURES, N, SMALL, tiny_model

pytestmark = pytest.mark.zk


def verify_on_chain(client, adapter, proof):
    return client.call(adapter.functions.verifyAccuracy(proof.proof, proof.instances))


def refusal(client, adapter, proof) -> str:
    with pytest.raises(ContractError) as err:
        verify_on_chain(client, adapter, proof)
    return err.value.name


def test_deployed_verifier_code_fits_the_eip170_limit(client, adapter):
    for address in (adapter.address, client.call(adapter.functions.verifier())):
        code = client.w3.eth.get_code(address)
        assert 0 < len(code) <= EIP170_LIMIT


def test_valid_proof_returns_the_statement(client, adapter, proof):
    c_t, h_w, count = verify_on_chain(client, adapter, proof)
    assert (c_t, h_w, count) == (proof.test_set_commitment, proof.model_commitment, proof.correct)


def test_valid_proof_verifies_in_a_transaction(client, adapter, proof):
    receipt = client.transact(adapter.functions.verifyAccuracy(proof.proof, proof.instances))
    assert receipt.gas_used > 0


def test_calldata_matches_the_abi(adapter, proof):
    assert adapter.encode_abi("verifyAccuracy", [proof.proof, proof.instances]) == "0x" + proof.calldata.hex()


def test_verifier_pins_the_setup_and_the_statement(client, adapter, circuit):
    view = lambda name: client.call(getattr(adapter.functions, name)())  # noqa: E731
    assert bytes(view("vkaHash")) == vka_hash(circuit)
    assert bytes(view("srsHash")) == srs_hash(circuit)
    assert bytes(view("statementHash")) == circuit.statement_hash
    assert (view("marginSteps"), view("shardSize")) == (1, N)
    check = check_verifier(client, adapter.address, circuit)
    assert check.matches, check.mismatches
    assert check.kind == ("reusable" if view("reusable") else "single")


def test_verifier_of_another_circuit_does_not_match(client, adapter, zk_settings):
    wide = zk.ensure_circuit(tiny_model(0), (FEATURES,), CLASSES, N, zk_settings,
                             params=dataclasses.replace(SMALL, margin_steps=2))
    check = check_verifier(client, adapter.address, wide)
    assert not check.matches
    assert {"vka_hash", "statement_hash", "margin_steps"} <= set(check.mismatches)


def test_changed_count_reverts(client, adapter, proof):
    assert refusal(client, adapter, proof.with_instances([proof.correct + 1])) == "ProofRejected"


def test_corrupted_proof_reverts(client, adapter, proof):
    corrupted = bytearray(proof.proof)
    corrupted[len(corrupted) // 2] ^= 0x01
    assert refusal(client, adapter, proof.with_proof(bytes(corrupted))) == "ProofRejected"


def test_other_model_claiming_the_hash_reverts(client, adapter, proof, forged):
    assert verify_on_chain(client, adapter, forged)[1] == forged.model_commitment != proof.model_commitment
    spliced = forged.proof[:TEST_SET_BYTES] + proof.proof[TEST_SET_BYTES:COMMITMENT_BYTES] \
        + forged.proof[COMMITMENT_BYTES:]
    assert refusal(client, adapter, forged.with_proof(spliced)) == "ProofRejected"


def test_other_test_set_is_visible_or_reverts(client, adapter, certificate):
    claimed, other = certificate
    c_t, _, _ = verify_on_chain(client, adapter, other)
    assert c_t == other.test_set_commitment != claimed.test_set_commitment
    spliced = claimed.proof[:TEST_SET_BYTES] + other.proof[TEST_SET_BYTES:]
    assert refusal(client, adapter, other.with_proof(spliced)) == "ProofRejected"


@pytest.fixture(scope="module")
def other_setups(tmp_path_factory, zk_settings, model, test_set):
    """The same shard proven by circuits set up with another SRS, and with another verifying key
    (the same architecture, another shard layout: δ = 2)."""
    X, y = test_set
    root = tmp_path_factory.mktemp("other-setup")
    other_srs = Settings.from_env(environ={}, state_dir=root / "state", circuit_dir=root / "circuits")
    srs_circuit = zk.ensure_circuit(model, (FEATURES,), CLASSES, N, other_srs, params=SMALL)
    vk_circuit = zk.ensure_circuit(model, (FEATURES,), CLASSES, N, zk_settings,
                                   params=dataclasses.replace(SMALL, margin_steps=2))
    return {"srs": zk.prove_accuracy(srs_circuit, model.state_dict(), X[:N], y[:N]),
            "vk": zk.prove_accuracy(vk_circuit, model.state_dict(), X[:N], y[:N]),
            "srs_circuit": srs_circuit}


@pytest.mark.parametrize("which", ["srs", "vk"])
def test_proof_made_with_another_srs_or_verifying_key_reverts(client, adapter, circuit, other_setups,
                                                              which):
    foreign = other_setups[which]
    assert zk.verify(other_setups["srs_circuit"] if which == "srs" else circuit, foreign,
                     model_commitment=foreign.model_commitment,
                     test_set_commitment=foreign.test_set_commitment) is (which == "srs")
    assert refusal(client, adapter, foreign) == "ProofRejected"
    assert other_setups["srs_circuit"].info["srs"]["sha256"] != circuit.info["srs"]["sha256"]


def test_malformed_instances_revert(client, adapter, proof):
    with pytest.raises(ContractError) as err:
        client.call(adapter.functions.verifyAccuracy(proof.proof, proof.instances + [0]))
    assert err.value.name == "InstancesMalformed"


def test_proof_too_short_for_the_commitments_reverts(client, adapter, proof):
    with pytest.raises(ContractError) as err:
        client.call(adapter.functions.verifyAccuracy(proof.proof[:COMMITMENT_BYTES - 1], proof.instances))
    assert err.value.name == "ProofTooShort"


def test_vka_that_does_not_hash_to_the_vka_hash_is_refused(client, circuit):
    words = circuit.vka_words()
    with pytest.raises(ContractError) as err:
        client.deploy(ADAPTER_NAME, client.deploy("Halo2VerifierReusable").address, words,
                      b"\x00" * 32, srs_hash(circuit), circuit.statement_hash, 1, N)
    assert err.value.name == "VkaHashMismatch"


class ProductionLikeAnvil(Anvil):
    """An Anvil that calls itself chain 1 (not a development chain)."""

    def command(self) -> list[str]:
        return super().command() + ["--chain-id", "1"]


def test_a_circuit_with_a_local_srs_is_not_deployed_on_a_chain_that_is_not_for_development(circuit):
    with ProductionLikeAnvil() as chain:
        client = ChainClient(chain.rpc_url, dev_private_keys(1)[0])
        assert client.chain_id == 1
        with pytest.raises(LocalSrsRefused, match="ZKPOT_SRS_PATH"):
            deploy_accuracy_verifier(client, circuit)
        with pytest.raises(LocalSrsRefused):
            deploy_accuracy_verifier(client, dataclasses.replace(circuit), kind="reusable")


def test_gen_srs_draws_a_new_srs_each_time(tmp_path):
    """What makes a local SRS unsafe and the other-SRS proofs above foreign: fresh randomness."""
    a, b = tmp_path / "a.srs", tmp_path / "b.srs"
    ezkl.gen_srs(str(a), 8)
    ezkl.gen_srs(str(b), 8)
    assert a.read_bytes() != b.read_bytes()


def test_deployment_map_records_the_srs_and_vka_hashes(client, adapter, circuit, tmp_path):
    from zkpot.chain import Deployment
    from zkpot.zk.evm import record_mismatches, verifier_record

    record = verifier_record(client, adapter.address, circuit)
    assert record["srs_sha256"] == "0x" + srs_hash(circuit).hex() == "0x" + circuit.info["srs"]["sha256"]
    assert record["vka_hash"] == "0x" + vka_hash(circuit).hex()
    assert (record["shard_size"], record["margin_steps"], record["srs_origin"]) == (N, 1, "local")
    path = tmp_path / "deployment.json"
    Deployment(chain_id=client.chain_id, block=0, contracts={ADAPTER_NAME: adapter.address},
               verifiers={adapter.address: record}).save(path)
    Deployment(chain_id=client.chain_id, block=0, contracts={"Other": adapter.address}).save(path)
    kept = Deployment.from_json(path.read_text())
    assert kept.verifiers == {adapter.address: record}
    check = check_verifier(client, adapter.address, circuit)
    assert record_mismatches(kept.verifiers[adapter.address], check) == []
    # a record of another SRS, or none at all, does not match what the circuit recomputes
    assert record_mismatches({**record, "srs_sha256": "0x" + "00" * 32}, check) == ["srs_sha256"]
    assert set(record_mismatches(None, check)) == {"srs_sha256", "vka_hash", "statement_hash",
                                                   "shard_size", "margin_steps"}


def test_a_verifier_is_matched_with_its_circuit_alone(client, adapter, circuit, zk_settings):
    from zkpot.zk.evm import verifier_mismatches

    assert verifier_mismatches(client, adapter.address, circuit) == []
    wide = zk.ensure_circuit(tiny_model(0), (FEATURES,), CLASSES, N, zk_settings,
                             params=dataclasses.replace(SMALL, margin_steps=2))
    wrong = verifier_mismatches(client, adapter.address, wide)
    assert "statement" in wrong and "verifying key" in wrong
    assert "margin (1 deployed, 2 for this job)" in wrong
    assert verifier_mismatches(client, "0x" + "de" * 20, circuit) == ["no contract"]
    halo2 = client.call(adapter.functions.verifier())
    assert verifier_mismatches(client, halo2, circuit) == ["not an EzklAccuracyVerifier"]
