"""zkpot.chain against a real Anvil, deploying from brownie's build artifacts."""

from __future__ import annotations

import os
import threading

import pytest
from eth_utils import keccak

from zkpot.chain import (ChainClient, ContractError, JobEscrowClient, JobParams, JobStatus, NodeRegistryClient,
                         Opening, StagePhase, deploy_all, fetch_events, load_deployment)
from zkpot.devnet import dev_private_keys
from zkpot.hashing import commitment, opening_key

STAKE = 10**16


@pytest.fixture(scope="module")
def keys():
    return dev_private_keys(6)


@pytest.fixture(scope="module")
def deployed(anvil, keys, tmp_path_factory):
    client = ChainClient(anvil.rpc_url, keys[0])
    path = tmp_path_factory.mktemp("deploy") / "deployment.json"
    return client, deploy_all(client, min_stake=STAKE, mock_verifier=True, path=path), path


def params(client, deployment, **over):
    now = client.w3.eth.get_block("latest")["timestamp"]
    base = dict(manifest_hash=keccak(b"m"), manifest_cid="bafym", stages=1, confirmations=2, reward=10**12,
                bounty=10**13, threshold=10, samples=20, shard_commitments=[keccak(b"s")],
                shard_data_hashes=[keccak(b"shard bytes")], verifier=deployment.verifier, deadline=now + 3600)
    base.update(over)
    return JobParams(**base)


def test_deploy_all_writes_loadable_map(deployed, settings):
    client, deployment, path = deployed
    loaded = load_deployment(settings.model_copy(update={"deployment_file": path}))
    assert loaded.contracts == deployment.contracts
    assert JobEscrowClient(client, deployment.escrow).registry_address() == deployment.registry


@pytest.mark.parametrize("text, reason", [
    (b"[" * 50_000, "unreadable"), (b"{}", "missing 'contracts'"), (b'{"contracts": {}}', "missing 'chain_id'"),
    (b'{"chain_id": 1, "contracts": [1]}', "unreadable"), (b"\xff\xfe", "not UTF-8"),
])
def test_a_deployment_map_that_is_not_one_is_a_reason(settings, tmp_path, text, reason):
    # found by an attack on the CLI: bare RecursionError, KeyError and UnicodeDecodeError
    path = tmp_path / "deployment.json"
    path.write_bytes(text)
    with pytest.raises(ValueError, match=reason):
        load_deployment(settings.model_copy(update={"deployment_file": path}))


def test_an_event_string_that_is_not_utf8_does_not_stop_the_readers(anvil, deployed, keys):
    # found by an attack: one createJob whose manifest CID was not UTF-8 made every later
    # fetch_events raise, freezing the API's index and the nodes' view of the chain for good
    client, deployment, _ = deployed
    attacker = ChainClient(anvil.rpc_url, keys[3])
    escrow = JobEscrowClient(attacker, deployment.escrow)
    start = client.block_number()
    marker = "bMARKERMARKER"
    hostile = params(client, deployment, manifest_cid=marker)
    data = bytes.fromhex(escrow.contract.encode_abi("createJob", args=[hostile.as_tuple()])[2:])
    tx = attacker.w3.eth.send_transaction({"from": attacker.address, "to": deployment.escrow, "gas": 3_000_000,
                                           "data": "0x" + data.replace(marker.encode(), b"\xff" * len(marker)).hex(),
                                           "value": hostile.escrow})
    assert attacker.w3.eth.wait_for_transaction_receipt(tx).status == 1
    honest = JobEscrowClient(client, deployment.escrow).create_job(params(client, deployment))
    created = [e for e in fetch_events(client, deployment, start) if e.name == "JobCreated"]
    assert [e["manifestCid"] for e in created] == ["\ufffd" * len(marker), "bafym"]
    assert created[-1]["jobId"] == honest


def test_concurrent_sends_from_one_key_all_mine(anvil, deployed, keys):
    _, deployment, _ = deployed
    client = ChainClient(anvil.rpc_url, keys[5])
    escrow = JobEscrowClient(client, deployment.escrow)
    job_params = params(client, deployment)
    job_ids, errors = [], []

    def create():
        try:
            job_ids.append(escrow.create_job(job_params))
        except Exception as exc:  # collected: the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(set(job_ids)) == 8
    assert client.w3.eth.get_transaction_count(client.address) >= 8


def test_revert_decodes_custom_error(anvil, deployed, keys):
    _, deployment, _ = deployed
    node = ChainClient(anvil.rpc_url, keys[4])
    with pytest.raises(ContractError) as info:
        NodeRegistryClient(node, deployment.registry).register(STAKE - 1)
    assert info.value.name == "StakeTooLow"
    assert info.value.args_ == (STAKE - 1, STAKE)


def test_stage_round_trip_and_events(anvil, deployed, keys):
    # C = 2: three declarations close the commit phase; two agreeing openings finalise
    client, deployment, _ = deployed
    job_id = JobEscrowClient(client, deployment.escrow).create_job(params(client, deployment))
    rho, weights, cid = os.urandom(32), keccak(b"S1"), "bafyS1"
    nodes = []
    for key in keys[1:4]:
        node = ChainClient(anvil.rpc_url, key)
        NodeRegistryClient(node, deployment.registry).register(STAKE)
        rand = os.urandom(32)
        escrow = JobEscrowClient(node, deployment.escrow)
        escrow.declare(job_id, 1, commitment(rho, weights, 9, rand, node.address))
        nodes.append((escrow, Opening(rho, weights, 9, rand, cid)))
    attempt = nodes[0][0].attempt_of(job_id)
    assert (attempt.phase, attempt.declarations, attempt.max_declarations) == (StagePhase.REVEAL, 3, 3)
    with pytest.raises(ContractError) as info:
        escrow.declare(job_id, 1, commitment(rho, weights, 9, rand, node.address))
    assert info.value.name == "CommitPhaseClosed"
    assert info.value.args_[:3] == (job_id, 1, 0)

    nodes[0][0].reveal(job_id, 1, nodes[0][1])
    receipt = nodes[1][0].reveal(job_id, 1, nodes[1][1])
    assert receipt.event("StageFinalised")["cid"] == cid
    late = nodes[2][0].reveal(job_id, 1, nodes[2][1])
    assert late.event("StageRevealed")["position"] == 255

    events = fetch_events(client, deployment)
    stage = nodes[0][0].stage_view(job_id, 1, events)
    assert stage.final and stage.cid == cid and stage.rho == rho and stage.attempt == 0
    assert [r.position for r in stage.revealed] == [1, 2, 255] and len(stage.declared) == 3
    result = nodes[0][0].stage_result(job_id, 1)
    assert result.key == opening_key(rho, weights, 9, cid)[:24]
    assert escrow.get_job(job_id).status == JobStatus.AWAITING_TEST_SET
    for escrow, _ in nodes:
        escrow.settle(job_id, escrow.client.address)
    assert escrow.declaration_of(job_id, escrow.client.address).settled
    ordered = [e.block_number * 10**6 + e.log_index for e in events]
    assert ordered == sorted(ordered)
