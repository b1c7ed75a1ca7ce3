"""The accuracy proofs checked on Anvil by EzklAccuracyVerifier over ezkl's reusable verifier."""

from __future__ import annotations

import pytest

from zkpot.chain import ContractError
from zkpot.zk.prove import COMMITMENT_BYTES, TEST_SET_BYTES

pytestmark = pytest.mark.zk

EIP170_LIMIT = 24576


def verify_on_chain(client, adapter, proof):
    return client.call(adapter.functions.verifyAccuracy(proof.proof, proof.instances))


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


def test_changed_count_reverts(client, adapter, proof):
    with pytest.raises(ContractError) as err:
        verify_on_chain(client, adapter, proof.with_instances([proof.correct + 1]))
    assert err.value.name == "ProofRejected"


def test_corrupted_proof_reverts(client, adapter, proof):
    corrupted = bytearray(proof.proof)
    corrupted[len(corrupted) // 2] ^= 0x01
    with pytest.raises(ContractError) as err:
        verify_on_chain(client, adapter, proof.with_proof(bytes(corrupted)))
    assert err.value.name == "ProofRejected"


def test_other_model_claiming_the_hash_reverts(client, adapter, proof, forged):
    assert verify_on_chain(client, adapter, forged)[1] == forged.model_commitment != proof.model_commitment
    spliced = forged.proof[:TEST_SET_BYTES] + proof.proof[TEST_SET_BYTES:COMMITMENT_BYTES] \
        + forged.proof[COMMITMENT_BYTES:]
    with pytest.raises(ContractError) as err:
        verify_on_chain(client, adapter, forged.with_proof(spliced))
    assert err.value.name == "ProofRejected"


def test_other_test_set_is_visible_or_reverts(client, adapter, certificate):
    claimed, other = certificate
    c_t, _, _ = verify_on_chain(client, adapter, other)
    assert c_t == other.test_set_commitment != claimed.test_set_commitment
    spliced = claimed.proof[:TEST_SET_BYTES] + other.proof[TEST_SET_BYTES:]
    with pytest.raises(ContractError) as err:
        verify_on_chain(client, adapter, other.with_proof(spliced))
    assert err.value.name == "ProofRejected"


def test_malformed_instances_revert(client, adapter, proof):
    with pytest.raises(ContractError) as err:
        client.call(adapter.functions.verifyAccuracy(proof.proof, proof.instances + [0]))
    assert err.value.name == "InstancesMalformed"


def test_proof_too_short_for_the_commitments_reverts(client, adapter, proof):
    with pytest.raises(ContractError) as err:
        client.call(adapter.functions.verifyAccuracy(proof.proof[:COMMITMENT_BYTES - 1], proof.instances))
    assert err.value.name == "ProofTooShort"
