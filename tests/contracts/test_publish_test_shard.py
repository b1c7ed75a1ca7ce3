from brownie import chain
from eth_utils import keccak

from conftest import DAY, SHARD, SHARD_DATA, create_job, finish_training, publish_test_set, reverts


def test_publish_test_shard_opens_proving(escrow, job, nodes, employer):
    finish_training(escrow, job, nodes)
    tx = publish_test_set(escrow, job, employer)
    assert tx.events["TestShardPublished"]["dataHash"] == "0x" + keccak(SHARD_DATA).hex()
    assert tx.events["TestSetPublished"]["proofDeadline"] == tx.timestamp + DAY
    view = escrow.getJob(job).dict()
    assert view["status"] == 3 and view["phaseDeadline"] == tx.timestamp + DAY
    assert view["shardsPublished"] == 1
    # the bytes are on chain: the transaction's data carries them for every node to read
    assert SHARD_DATA.hex() in tx.input


def test_publish_test_shard_other_bytes_reverts(escrow, job, nodes, employer):
    # the employer cannot post nothing, or another test set, and keep the bounty
    finish_training(escrow, job, nodes)
    for data in (b"", SHARD_DATA + b"\x00", b"a relabelled test set"):
        with reverts("ShardDataMismatch"):
            escrow.publishTestShard(job, 0, data, {"from": employer})


def test_publish_test_shard_every_shard_before_proving(escrow, employer, verifier, nodes):
    data = [b"shard zero", b"shard one"]
    job = create_job(escrow, employer, verifier, shardCommitments=[SHARD, keccak(b"c1")],
                     shardDataHashes=[keccak(d) for d in data])
    finish_training(escrow, job, nodes)
    tx = escrow.publishTestShard(job, 1, data[1], {"from": employer})
    assert "TestSetPublished" not in tx.events and escrow.getJob(job).dict()["status"] == 2
    with reverts("ShardPublished"):
        escrow.publishTestShard(job, 1, data[1], {"from": employer})
    assert "TestSetPublished" in escrow.publishTestShard(job, 0, data[0], {"from": employer}).events


def test_publish_test_shard_unknown_shard_reverts(escrow, job, nodes, employer):
    finish_training(escrow, job, nodes)
    with reverts("ShardUnknown"):
        escrow.publishTestShard(job, 1, SHARD_DATA, {"from": employer})


def test_publish_test_shard_before_training_ends_reverts(escrow, job, employer):
    with reverts("JobStatusInvalid"):
        publish_test_set(escrow, job, employer)


def test_publish_test_shard_by_stranger_reverts(escrow, job, nodes):
    finish_training(escrow, job, nodes)
    with reverts("CallerNotEmployer"):
        escrow.publishTestShard(job, 0, SHARD_DATA, {"from": nodes[0]})


def test_publish_test_shard_after_window_reverts(escrow, job, nodes, employer):
    finish_training(escrow, job, nodes)
    chain.sleep(DAY + 1)
    with reverts("DeadlinePassed"):
        publish_test_set(escrow, job, employer)
