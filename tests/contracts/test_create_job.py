from brownie import chain

from conftest import BOUNTY, REWARD, SHARD, job_params, reverts


def test_create_job_escrows_and_emits(escrow, employer, verifier):
    params, value = job_params(verifier)
    tx = escrow.createJob(params, {"from": employer, "value": value})
    job_id = tx.return_value
    assert tx.events["JobCreated"]["jobId"] == job_id == escrow.jobCount()
    assert tx.events["JobCreated"]["manifestCid"] == "bafymanifest"
    view = escrow.getJob(job_id).dict()
    assert view["status"] == 1 and view["remaining"] == value == 2 * 3 * REWARD + BOUNTY
    assert escrow.shardCommitments(job_id) == ["0x" + SHARD.hex()]
    assert escrow.totalEscrowed() == value == escrow.balance()


def test_create_job_wrong_value_reverts(escrow, employer, verifier):
    params, value = job_params(verifier)
    with reverts("EscrowMismatch"):
        escrow.createJob(params, {"from": employer, "value": value - 1})


def test_create_job_invalid_params_revert(escrow, employer, verifier):
    bad = [dict(stages=0), dict(confirmations=0), dict(shardCommitments=[]), dict(threshold=65),
           dict(verifier=employer), dict(deadline=1), dict(testSetWindow=0),
           dict(proofWindow=0), dict(samples=0)]
    for over in bad:
        params, value = job_params(verifier, **over)
        with reverts("JobParamInvalid"):
            escrow.createJob(params, {"from": employer, "value": value})
