from brownie import chain
from eth_utils import keccak

from conftest import (BOUNTY, DAY, MODEL, SHARD, Stage, create_job, finish_training, proof, publish_test_set,
                      reverts)

ZERO = "0x" + "0" * 40


def proving(escrow, job_id, nodes, employer, data=None):
    finish_training(escrow, job_id, nodes)
    for shard, shard_data in enumerate(data or [None]):
        if shard_data is None:
            publish_test_set(escrow, job_id, employer)
        else:
            escrow.publishTestShard(job_id, shard, shard_data, {"from": employer})


def test_submit_accuracy_proof_completes_and_owes_the_bounty(escrow, job, nodes, employer):
    proving(escrow, job, nodes, employer)
    tx = escrow.submitAccuracyProof(job, 0, proof(SHARD, MODEL, 60), [], {"from": nodes[2]})
    assert tx.events["AccuracyProofAccepted"]["correctCount"] == 60
    assert tx.events["AccuracyProofAccepted"]["submitter"] == nodes[2]
    assert tx.events["JobCompleted"]["bounty"] == BOUNTY
    view = escrow.getJob(job).dict()
    assert view["status"] == 4 and view["remaining"] == 0
    assert escrow.shardSubmitter(job, 0) == nodes[2]


def test_submit_accuracy_proof_sender_is_not_paid_for_it(escrow, job, nodes, employer, accounts):
    # the bounty is owed to the last stage's paid nodes, whoever sends the proof: a copy of a
    # pending proof sent first by a mempool watcher earns the watcher nothing
    proving(escrow, job, nodes, employer)
    escrow.submitAccuracyProof(job, 0, proof(SHARD, MODEL, 60), [], {"from": accounts[9]})
    assert escrow.creditOf(accounts[9]) == 0
    shares = [escrow.settle(job, n, {"from": n}).events["BountyPaid"]["amount"] for n in nodes[:3]]
    assert sum(shares) == BOUNTY


def test_submit_accuracy_proof_shards_sum(escrow, verifier, nodes, employer):
    shards = [keccak(b"a"), keccak(b"b"), keccak(b"c")]
    data = [b"da", b"db", b"dc"]
    job_id = create_job(escrow, employer, verifier, shardCommitments=shards,
                        shardDataHashes=[keccak(d) for d in data], threshold=90, samples=96)
    proving(escrow, job_id, nodes, employer, data)
    for i, shard in enumerate(shards):
        tx = escrow.submitAccuracyProof(job_id, i, proof(shard, MODEL, 30), [], {"from": nodes[i]})
    assert tx.events["JobCompleted"]["correctCount"] == 90


def test_submit_accuracy_proof_below_threshold_fails_job(escrow, job, nodes, employer):
    proving(escrow, job, nodes, employer)
    before = escrow.creditOf(employer)
    tx = escrow.submitAccuracyProof(job, 0, proof(SHARD, MODEL, 49), [], {"from": nodes[0]})
    ev = tx.events["JobFailed"]
    assert (ev["correctCount"], ev["threshold"], ev["refunded"]) == (49, 50, BOUNTY)
    assert escrow.creditOf(employer) - before == BOUNTY
    assert escrow.getJob(job).dict()["status"] == 5


def test_submit_accuracy_proof_other_test_set_reverts(escrow, job, nodes, employer):
    proving(escrow, job, nodes, employer)
    with reverts("TestSetMismatch"):
        escrow.submitAccuracyProof(job, 0, proof(keccak(b"relabelled"), MODEL, 64), [], {"from": nodes[0]})


def test_submit_accuracy_proof_other_model_reverts(escrow, job, nodes, employer):
    proving(escrow, job, nodes, employer)
    with reverts("ModelMismatch"):
        escrow.submitAccuracyProof(job, 0, proof(SHARD, MODEL + 1, 64), [], {"from": nodes[0]})


def test_submit_accuracy_proof_replayed_across_jobs_reverts(escrow, verifier, job, nodes, employer):
    job2 = create_job(escrow, employer, verifier, shardCommitments=[keccak(b"job 2 shard")])
    proving(escrow, job, nodes, employer)
    proving(escrow, job2, nodes, employer)
    accepted = proof(SHARD, MODEL, 60)
    escrow.submitAccuracyProof(job, 0, accepted, [], {"from": nodes[0]})
    with reverts("TestSetMismatch"):
        escrow.submitAccuracyProof(job2, 0, accepted, [], {"from": nodes[0]})


def test_submit_accuracy_proof_twice_per_shard_reverts(escrow, verifier, nodes, employer):
    data = [b"d0", b"d1"]
    job_id = create_job(escrow, employer, verifier, shardCommitments=[SHARD, keccak(b"b")],
                        shardDataHashes=[keccak(d) for d in data])
    proving(escrow, job_id, nodes, employer, data)
    escrow.submitAccuracyProof(job_id, 0, proof(SHARD, MODEL, 30), [], {"from": nodes[0]})
    with reverts("ShardProven"):
        escrow.submitAccuracyProof(job_id, 0, proof(SHARD, MODEL, 30), [], {"from": nodes[1]})


def test_submit_accuracy_proof_unknown_shard_reverts(escrow, job, nodes, employer):
    proving(escrow, job, nodes, employer)
    with reverts("ShardUnknown"):
        escrow.submitAccuracyProof(job, 1, proof(SHARD, MODEL, 60), [], {"from": nodes[0]})


def test_submit_accuracy_proof_before_the_test_set_reverts(escrow, job, nodes):
    finish_training(escrow, job, nodes)
    with reverts("JobStatusInvalid"):
        escrow.submitAccuracyProof(job, 0, proof(SHARD, MODEL, 60), [], {"from": nodes[0]})


def test_submit_accuracy_proof_after_window_reverts(escrow, job, nodes, employer):
    proving(escrow, job, nodes, employer)
    chain.sleep(DAY + 1)
    with reverts("DeadlinePassed"):
        escrow.submitAccuracyProof(job, 0, proof(SHARD, MODEL, 60), [], {"from": nodes[0]})
    assert escrow.shardSubmitter(job, 0) == ZERO


def test_submit_accuracy_proof_model_of_an_earlier_stage_reverts(escrow, job, nodes, employer):
    Stage(escrow, job, 1, model=111).run(nodes[:3])
    Stage(escrow, job, 2, model=222).run(nodes[:3])
    publish_test_set(escrow, job, employer)
    with reverts("ModelMismatch"):
        escrow.submitAccuracyProof(job, 0, proof(SHARD, 111, 64), [], {"from": nodes[0]})
