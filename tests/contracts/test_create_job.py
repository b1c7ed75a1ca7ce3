from brownie import chain

from eth_utils import keccak

from conftest import BOUNTY, REWARD, SHARD, SHARD_DATA, job_params, reverts


def test_create_job_escrows_and_emits(escrow, employer, verifier):
    params, value = job_params(verifier)
    tx = escrow.createJob(params, {"from": employer, "value": value})
    job_id = tx.return_value
    assert tx.events["JobCreated"]["jobId"] == job_id == escrow.jobCount()
    assert tx.events["JobCreated"]["manifestCid"] == "bafymanifest"
    view = escrow.getJob(job_id).dict()
    assert view["status"] == 1 and view["remaining"] == value == 2 * 3 * REWARD + BOUNTY
    assert escrow.shardCommitments(job_id) == ["0x" + SHARD.hex()]
    assert escrow.shardDataHashes(job_id) == ["0x" + keccak(SHARD_DATA).hex()]
    a = escrow.attemptOf(job_id).dict()
    assert (a["stage"], a["attempt"], a["phase"], a["maxDeclarations"]) == (1, 0, 1, 5)
    assert escrow.totalEscrowed() == value == escrow.balance()


def test_create_job_wrong_value_reverts(escrow, employer, verifier):
    params, value = job_params(verifier)
    with reverts("EscrowMismatch"):
        escrow.createJob(params, {"from": employer, "value": value - 1})


def test_create_job_invalid_params_revert(escrow, employer, verifier):
    bad = {"stages": [dict(stages=0), dict(stages=10_001)],
           "confirmations": [dict(confirmations=0), dict(confirmations=33)],
           "amount": [dict(reward=2**64), dict(bounty=2**64)],
           "shards": [dict(shardCommitments=[], shardDataHashes=[])],
           "shardDataHashes": [dict(shardDataHashes=[])],
           "threshold": [dict(threshold=65), dict(threshold=0)], "samples": [dict(samples=0)],
           "verifier": [dict(verifier=employer)], "deadline": [dict(deadline=1)],
           "commitWindow": [dict(commitWindow=59), dict(commitWindow=31 * 24 * 3600)],
           "revealWindow": [dict(revealWindow=0)],
           # the proof window must cover proving the certificate with margin, the test-set
           # window the employer's publication
           "testSetWindow": [dict(testSetWindow=3599)], "proofWindow": [dict(proofWindow=3599)]}
    for name, cases in bad.items():
        for over in cases:
            params, value = job_params(verifier, **over)
            with reverts("JobParamInvalid") as info:
                escrow.createJob(params, {"from": employer, "value": value})
            assert f"b'{name}\\x00" in info.value.revert_msg


def test_create_job_repeated_shard_commitments_revert(escrow, employer, verifier):
    # one proof must not count for two shards
    params, value = job_params(verifier, shardCommitments=[SHARD, keccak(b"x"), SHARD],
                               shardDataHashes=[keccak(b"a"), keccak(b"b"), keccak(b"c")])
    with reverts("JobParamInvalid"):
        escrow.createJob(params, {"from": employer, "value": value})
