from brownie import chain
from eth_utils import keccak

from conftest import BOUNTY, DAY, MODEL, SHARD, Stage, finish_training, job_params, proof, reverts


def proving(escrow, job_id, nodes, employer):
    finish_training(escrow, job_id, nodes)
    escrow.publishTestSet(job_id, "bafytest", {"from": employer})


def test_submit_accuracy_proof_completes_and_pays(escrow, job, nodes, employer):
    proving(escrow, job, nodes, employer)
    before = escrow.creditOf(nodes[2])
    tx = escrow.submitAccuracyProof(job, 0, proof(SHARD, MODEL, 60), [], {"from": nodes[2]})
    assert tx.events["AccuracyProofAccepted"]["correctCount"] == 60
    assert tx.events["AccuracyProofAccepted"]["submitter"] == nodes[2]
    assert tx.events["JobCompleted"]["bounty"] == BOUNTY
    assert escrow.creditOf(nodes[2]) - before == BOUNTY
    assert escrow.shardSubmitter(job, 0) == nodes[2]
    assert escrow.getJob(job).dict()["status"] == 4


def test_submit_accuracy_proof_shards_sum_and_split(escrow, verifier, nodes, employer):
    shards = [keccak(b"a"), keccak(b"b"), keccak(b"c")]
    params, value = job_params(verifier, shardCommitments=shards, threshold=90, samples=96, bounty=10)
    job_id = escrow.createJob(params, {"from": employer, "value": value}).return_value
    proving(escrow, job_id, nodes, employer)
    before = [escrow.creditOf(n) for n in nodes[:3]]
    for i, shard in enumerate(shards):
        tx = escrow.submitAccuracyProof(job_id, i, proof(shard, MODEL, 30), [], {"from": nodes[i]})
    assert tx.events["JobCompleted"]["correctCount"] == 90
    assert [escrow.creditOf(n) - b for n, b in zip(nodes[:3], before)] == [3, 3, 4]


def test_submit_accuracy_proof_by_non_finalist_reverts(escrow, job, nodes, employer, accounts):
    proving(escrow, job, nodes, employer)
    # nodes[3] is registered but did not declare; accounts[8] is not a node at all
    for outsider in (nodes[3], accounts[8]):
        with reverts("CallerNotFinalist"):
            escrow.submitAccuracyProof(job, 0, proof(SHARD, MODEL, 60), [], {"from": outsider})


def test_submit_accuracy_proof_by_earlier_stage_or_slashed_declarer_reverts(escrow, job, nodes,
                                                                           employer):
    first = Stage(escrow, job, 1, weights=keccak(b"w1"))
    for node in nodes[2:5]:
        first.declare(node)
    first.reveal(nodes[2])
    last = Stage(escrow, job, 2, weights=keccak(b"w2"))
    for node in nodes[:3]:
        last.declare(node)
    last.declare(nodes[3], weights=keccak(b"wrong"))
    last.reveal(nodes[0])
    escrow.publishTestSet(job, "bafytest", {"from": employer})
    # paid for stage 1 only (nodes[4]), slashed in the last stage (nodes[3]): not finalists
    for node in nodes[3:5]:
        with reverts("CallerNotFinalist"):
            escrow.submitAccuracyProof(job, 0, proof(SHARD, MODEL, 60), [], {"from": node})
    escrow.submitAccuracyProof(job, 0, proof(SHARD, MODEL, 60), [], {"from": nodes[2]})


def test_submit_accuracy_proof_copied_from_mempool_reverts_for_copier(escrow, job, nodes, employer,
                                                                       accounts):
    proving(escrow, job, nodes, employer)
    # a watcher copies a finalist's pending transaction and gets it mined first: same proof
    # bytes, another sender
    pending = proof(SHARD, MODEL, 60)
    with reverts("CallerNotFinalist"):
        escrow.submitAccuracyProof(job, 0, pending, [], {"from": accounts[8]})
    assert escrow.shardSubmitter(job, 0) == "0x" + "0" * 40
    escrow.submitAccuracyProof(job, 0, pending, [], {"from": nodes[1]})
    assert escrow.shardSubmitter(job, 0) == nodes[1]
    assert escrow.creditOf(accounts[8]) == 0


def test_submit_accuracy_proof_below_threshold_fails_job(escrow, job, nodes, employer):
    proving(escrow, job, nodes, employer)
    before = escrow.creditOf(employer), escrow.creditOf(nodes[0])
    tx = escrow.submitAccuracyProof(job, 0, proof(SHARD, MODEL, 49), [], {"from": nodes[0]})
    assert tx.events["JobFailed"]["threshold"] == 50
    assert escrow.creditOf(employer) - before[0] == BOUNTY
    assert escrow.creditOf(nodes[0]) == before[1]


def test_submit_accuracy_proof_other_test_set_reverts(escrow, job, nodes, employer):
    proving(escrow, job, nodes, employer)
    with reverts("TestSetMismatch"):
        escrow.submitAccuracyProof(job, 0, proof(keccak(b"relabelled"), MODEL, 64), [], {"from": nodes[0]})


def test_submit_accuracy_proof_other_model_reverts(escrow, job, nodes, employer):
    proving(escrow, job, nodes, employer)
    with reverts("ModelMismatch"):
        escrow.submitAccuracyProof(job, 0, proof(SHARD, MODEL + 1, 64), [], {"from": nodes[0]})


def test_submit_accuracy_proof_replayed_across_jobs_reverts(escrow, verifier, job, nodes, employer):
    params, value = job_params(verifier, shardCommitments=[keccak(b"job 2 shard")])
    job2 = escrow.createJob(params, {"from": employer, "value": value}).return_value
    proving(escrow, job, nodes, employer)
    proving(escrow, job2, nodes, employer)
    accepted = proof(SHARD, MODEL, 60)
    escrow.submitAccuracyProof(job, 0, accepted, [], {"from": nodes[0]})
    with reverts("TestSetMismatch"):
        escrow.submitAccuracyProof(job2, 0, accepted, [], {"from": nodes[0]})


def test_submit_accuracy_proof_twice_per_shard_reverts(escrow, verifier, nodes, employer):
    params, value = job_params(verifier, shardCommitments=[SHARD, keccak(b"b")])
    job_id = escrow.createJob(params, {"from": employer, "value": value}).return_value
    proving(escrow, job_id, nodes, employer)
    escrow.submitAccuracyProof(job_id, 0, proof(SHARD, MODEL, 30), [], {"from": nodes[0]})
    with reverts("ShardProven"):
        escrow.submitAccuracyProof(job_id, 0, proof(SHARD, MODEL, 30), [], {"from": nodes[1]})


def test_submit_accuracy_proof_unknown_shard_reverts(escrow, job, nodes, employer):
    proving(escrow, job, nodes, employer)
    with reverts("ShardUnknown"):
        escrow.submitAccuracyProof(job, 1, proof(SHARD, MODEL, 60), [], {"from": nodes[0]})


def test_submit_accuracy_proof_invalid_proof_reverts(escrow, job, nodes, employer):
    proving(escrow, job, nodes, employer)
    with reverts("ProofInvalid"):
        escrow.submitAccuracyProof(job, 0, proof(b"\x00" * 32, MODEL, 60), [], {"from": nodes[0]})


def test_submit_accuracy_proof_before_test_set_reverts(escrow, job, nodes):
    finish_training(escrow, job, nodes)
    with reverts("JobStatusInvalid"):
        escrow.submitAccuracyProof(job, 0, proof(SHARD, MODEL, 60), [], {"from": nodes[0]})


def test_submit_accuracy_proof_after_window_reverts(escrow, job, nodes, employer):
    proving(escrow, job, nodes, employer)
    chain.sleep(DAY + 1)
    with reverts("DeadlinePassed"):
        escrow.submitAccuracyProof(job, 0, proof(SHARD, MODEL, 60), [], {"from": nodes[0]})
