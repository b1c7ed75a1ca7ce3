"""Job creation asks the chain first (zkpot.escrow_preflight) and leaves nothing behind when
createJob then fails; contract errors are shown with their reasons (zkpot.revert_reasons)."""

from __future__ import annotations

import dataclasses
import time

import pytest
from eth_account import Account

from tests.api import chainwork
from zkpot import jobs
from zkpot.chain import ChainClient, ContractError, JobEscrowClient
from zkpot.datasets import demo_dataset
from zkpot.devnet import Anvil, free_port
from zkpot.escrow_preflight import EscrowPreflight
from zkpot.revert_reasons import explain
from zkpot.spec import preset

EMPLOYER = Account.from_key(chainwork.KEYS[0]).address
TERMS = jobs.JobTerms(reward_per_declaration=10**12, quorum=2, theta=0.5, deadline=int(time.time()) + 3600,
                      shard_size=16)


@pytest.fixture
def chain_settings(settings, anvil, circuit_cache):
    return settings.model_copy(update={"rpc_url": anvil.rpc_url, "circuit_dir": circuit_cache})


def _params(preflight: EscrowPreflight, **change):
    # the deadline in the chain's time: other tests on this Anvil move its clock forward
    terms = dataclasses.replace(TERMS, deadline=preflight.connect().client.chain_time() + 3600)
    stand_in = jobs._placeholders(2)
    base = jobs._params(terms, 3, 32, stand_in, stand_in, preflight.verifier())
    return base.__class__(**{**base.__dict__, **change})


def test_contract_errors_read_as_reasons():
    amount = ContractError("JobParamInvalid", (b"amount".ljust(32, b"\0"),))
    assert str(amount).startswith("JobParamInvalid(0x616d6f756e74")   # what the chain client gives
    assert explain(amount) == ('JobParamInvalid("amount"): reward and bounty must each be at most '
                               "2^64 - 1 wei (about 18.4 ETH)")
    assert explain(ContractError("DeadlineNotReached", (3, 1700000000))) == (
        "DeadlineNotReached(3, 1700000000): the deadline has not been reached yet")
    assert explain(ContractError("JobStatusInvalid", (4, 1))).endswith("job 4 is training, which does not allow this")
    assert explain(ContractError("Error", ("plain revert",))) == "reverted: plain revert"
    assert explain(ValueError("not a contract error")) == "not a contract error"


def test_preflight_decodes_what_createjob_would_refuse(chain_settings):
    chainwork.deploy(chain_settings)
    preflight = EscrowPreflight(chain_settings, EMPLOYER)
    with pytest.raises(jobs.JobInputError) as refused:   # bypassing the pure checks on purpose
        preflight.check_create(_params(preflight, stages=65_600))
    assert 'JobParamInvalid("stages")' in str(refused.value) and refused.value.field == "stage_flops"
    with pytest.raises(jobs.JobInputError, match='JobParamInvalid\\("amount"\\): reward and bounty'):
        preflight.check_create(_params(preflight, reward=2**64))
    poor = EscrowPreflight(chain_settings, Account.create().address)
    with pytest.raises(jobs.JobRefused, match="holds 0 ETH; this job escrows"):
        poor.check_create(_params(poor))
    preflight.check_create(_params(preflight))   # the real thing passes


def test_preflight_without_a_chain_or_deployment_fails_before_any_work(chain_settings, tmp_path):
    gone = chain_settings.model_copy(update={"rpc_url": f"http://127.0.0.1:{free_port()}"})
    chainwork.deploy(chain_settings)
    with pytest.raises(jobs.JobChainError, match="does not answer"):
        EscrowPreflight(gone, EMPLOYER).connect()
    nowhere = chain_settings.model_copy(update={"deployment_file": tmp_path / "none.json"})
    with pytest.raises(jobs.JobChainError, match="not deployed"):
        EscrowPreflight(nowhere, EMPLOYER).connect()
    with Anvil() as other:   # a map whose contracts are not on this chain
        fresh = chain_settings.model_copy(update={"rpc_url": other.rpc_url})
        with pytest.raises(jobs.JobChainError, match="no JobEscrow contract"):
            EscrowPreflight(fresh, EMPLOYER).connect()
        stored = [p for p in chain_settings.state_dir.rglob("*") if p.is_file() and "store" in p.parts]
        assert stored == []


def test_a_createjob_that_fails_after_preparation_leaves_no_files(settings, circuit_cache):
    # its own chain: the employer's balance is emptied between preparation and the transaction
    with Anvil() as chain:
        s = settings.model_copy(update={"rpc_url": chain.rpc_url, "circuit_dir": circuit_cache})
        deployed = chainwork.deploy(s)
        prepared = jobs.prepare_job(s, demo_dataset("wine"), preset("wine-mlp"), TERMS, EMPLOYER,
                                    EscrowPreflight(s, EMPLOYER))
        assert prepared.stored and prepared.private.path.is_file()
        client = ChainClient(chain.rpc_url, chainwork.KEYS[0])
        client.rpc(lambda: client.w3.provider.make_request("anvil_setBalance", [EMPLOYER, "0x0"]))
        with pytest.raises(Exception, match="(?i)insufficient funds"):
            JobEscrowClient(client, deployed.escrow).create_job(prepared.params)
        jobs.discard_job(s, prepared)
        left = [p for p in s.state_dir.rglob("*") if p.is_file() and ("store" in p.parts or "private" in p.parts)]
        assert left == []


def test_a_job_gets_the_verifier_of_its_own_circuit_or_is_refused_with_a_reason(settings, circuit_cache):
    """The deployment map's verifiers are matched with the job's circuit on chain: a job whose
    circuit no deployed verifier proves is refused before anything is stored."""
    from zkpot.chain import Deployment
    from zkpot.spec import build_model
    from zkpot.zk import ensure_circuit, preset_circuit
    from zkpot.zk.evm import deploy_accuracy_verifier, verifier_record

    with Anvil() as chain:
        s = settings.model_copy(update={"rpc_url": chain.rpc_url, "circuit_dir": circuit_cache})
        deployed = chainwork.deploy(s)
        client = ChainClient(chain.rpc_url, chainwork.KEYS[0])
        wine = demo_dataset("wine")
        own = ensure_circuit(build_model(preset("wine-mlp")), wine.input_shape, wine.num_classes,
                             TERMS.shard_size, s, chain_id=client.chain_id)
        other = preset_circuit("digits-mlp", 64, s, chain_id=client.chain_id)   # the demo's

        def listing(*circuits):
            contracts, verifiers = {}, {}
            for circuit in circuits:
                adapter = deploy_accuracy_verifier(client, circuit, kind="reusable")
                contracts["EzklAccuracyVerifier"] = adapter
                verifiers[adapter] = verifier_record(client, adapter, circuit)
            path = s.deployment_path
            path.unlink()
            Deployment(chain_id=deployed.chain_id, block=deployed.block,
                       contracts={**deployed.contracts, **contracts}, verifiers=verifiers).save(path)
            return list(verifiers)

        listing(other)
        with pytest.raises(jobs.JobInputError) as refused:
            jobs.prepare_job(s, wine, preset("wine-mlp"), TERMS, EMPLOYER, EscrowPreflight(s, EMPLOYER))
        assert refused.value.field == "shard_size"
        assert f"shards of {TERMS.shard_size}" in str(refused.value)
        assert f"shard size (64 deployed, {TERMS.shard_size} for this job)" in str(refused.value)
        left = [p for p in s.state_dir.rglob("*") if p.is_file() and ("store" in p.parts or "private" in p.parts)]
        assert left == []
        _, mine = listing(other, own)
        prepared = jobs.prepare_job(s, wine, preset("wine-mlp"), TERMS, EMPLOYER, EscrowPreflight(s, EMPLOYER))
        assert prepared.params.verifier == mine
        jobs.discard_job(s, prepared)
