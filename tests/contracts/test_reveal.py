import os

from brownie import chain
from eth_utils import keccak

from conftest import REVEAL_WINDOW, REWARD, Stage, create_job, opening_key, reverts


def declared(escrow, job, nodes, n=3):
    st = Stage(escrow, job, 1)
    for node in nodes[:n]:
        st.declare(node)
    st.close_commit()
    return st


def test_reveal_emits_the_opening_and_its_position(escrow, job, nodes):
    st = declared(escrow, job, nodes)
    tx = st.reveal(nodes[1])
    ev = tx.events["StageRevealed"]
    assert (ev["node"], ev["attempt"], ev["position"]) == (nodes[1], 0, 1)
    assert ev["cidHash"] == "0x" + keccak(st.cid.encode()).hex()
    assert ev["rho"] == "0x" + st.rho.hex() and ev["modelCommitment"] == st.model
    view = escrow.declarationOf(job, nodes[1]).dict()
    assert view["position"] == 1
    assert view["hash"] == "0x" + opening_key(*st.honest())[:24].hex()


def test_reveal_cth_agreeing_opening_finalises(escrow, job, nodes):
    st = declared(escrow, job, nodes)
    st.reveal(nodes[0])
    st.reveal(nodes[1])
    tx = st.reveal(nodes[2])
    ev = tx.events["StageFinalised"]
    assert (ev["stage"], ev["finaliser"], ev["attempt"], ev["cid"]) == (1, nodes[2], 0, st.cid)
    assert ev["weightsHash"] == "0x" + st.weights.hex()
    view = escrow.getJob(job).dict()
    assert (view["stagesDone"], view["status"], view["owed"]) == (1, 1, 3 * REWARD)
    result = escrow.stageResult(job, 1).dict()
    assert result["key"] == "0x" + opening_key(*st.honest())[:24].hex()
    # the next stage opens at once, in attempt 0
    a = escrow.attemptOf(job).dict()
    assert (a["stage"], a["attempt"], a["declarations"], a["phase"]) == (2, 0, 0, 1)


def test_reveal_last_stage_awaits_test_set(escrow, job, nodes):
    Stage(escrow, job, 1).run(nodes[:3])
    st = Stage(escrow, job, 2, model=777)
    st.run(nodes[:3])
    view = escrow.getJob(job).dict()
    assert view["status"] == 2 and view["finalModelCommitment"] == 777 and view["phaseDeadline"] > 0


def test_reveal_during_the_commit_phase_reverts(escrow, job, nodes):
    st = Stage(escrow, job, 1)
    st.declare(nodes[0])
    with reverts("RevealPhaseClosed"):
        st.reveal(nodes[0])


def test_reveal_after_the_reveal_phase_reverts(escrow, job, nodes):
    st = declared(escrow, job, nodes)
    chain.sleep(REVEAL_WINDOW)
    with reverts("RevealPhaseClosed"):
        st.reveal(nodes[0])


def test_reveal_wrong_opening_reverts(escrow, job, nodes):
    st = declared(escrow, job, nodes)
    rho, weights, model, rand, cid = st.openings[nodes[0].address]
    for bad in [(keccak(b"x"), weights, model, rand, cid), (rho, keccak(b"x"), model, rand, cid),
                (rho, weights, model + 1, rand, cid), (rho, weights, model, os.urandom(32), cid)]:
        with reverts("OpeningMismatch"):
            st.reveal(nodes[0], opening=bad)


def test_reveal_someone_elses_declaration_reverts(escrow, job, nodes):
    # a copier declares another node's published commitment: it binds that node's address,
    # so not even the true opening opens it for the copier
    st = Stage(escrow, job, 1)
    honest = st.declare(nodes[0]).events["StageDeclared"]["commitment"]
    st.declare(nodes[1], commit=bytes(honest))
    st.close_commit()
    with reverts("OpeningMismatch"):
        st.reveal(nodes[1], opening=st.openings[nodes[0].address])


def test_reveal_without_declaration_reverts(escrow, job, nodes):
    declared(escrow, job, nodes)
    with reverts("DeclarationUnknown"):
        Stage(escrow, job, 1).reveal(nodes[4], opening=(b"\x01" * 32, b"\x02" * 32, 0, b"\x03" * 32, "x"))


def test_reveal_twice_reverts(escrow, job, nodes):
    st = declared(escrow, job, nodes)
    st.reveal(nodes[0])
    with reverts("DeclarationOpened"):
        st.reveal(nodes[0])


def test_reveal_other_values_do_not_count_towards_the_agreement(escrow, job, nodes):
    st = Stage(escrow, job, 1)
    st.declare(nodes[3], rho=keccak(b"invented"))
    st.declare(nodes[4], weights=keccak(b"invented"))
    for node in nodes[:3]:
        st.declare(node)
    assert escrow.attemptOf(job).dict()["phase"] == 2   # 5 = 2C - 1: closed by count
    st.reveal(nodes[3])
    st.reveal(nodes[4])
    assert escrow.getJob(job).dict()["stagesDone"] == 0
    tx = [st.reveal(n) for n in nodes[:3]][-1]
    assert tx.events["StageRevealed"]["position"] == 3
    assert "StageFinalised" in tx.events


def test_reveal_a_different_cid_is_other_values(escrow, job, nodes):
    st = declared(escrow, job, nodes)
    st.reveal(nodes[0])
    st.reveal(nodes[1])
    rho, weights, model, rand, _ = st.openings[nodes[2].address]
    tx = st.reveal(nodes[2], opening=(rho, weights, model, rand, "bafy-elsewhere"))
    assert tx.events["StageRevealed"]["position"] == 1 and "StageFinalised" not in tx.events


def test_reveal_after_finalisation_is_late_until_the_deadline(escrow, job, nodes):
    st = Stage(escrow, job, 1)
    for node in nodes[:4]:
        st.declare(node)
    st.close_commit()
    for node in nodes[:3]:
        st.reveal(node)
    tx = st.reveal(nodes[3])
    assert tx.events["StageRevealed"]["position"] == 255
    assert escrow.getJob(job).dict()["stagesDone"] == 1


def test_reveal_late_after_its_reveal_phase_reverts(escrow, job, nodes):
    st = Stage(escrow, job, 1)
    for node in nodes[:4]:
        st.declare(node)
    st.close_commit()
    for node in nodes[:3]:
        st.reveal(node)
    chain.sleep(REVEAL_WINDOW)
    with reverts("RevealPhaseClosed"):
        st.reveal(nodes[3])


def test_reveal_at_c1_finalises_with_one_opening(escrow, employer, verifier, nodes):
    job = create_job(escrow, employer, verifier, confirmations=1)
    st = Stage(escrow, job, 1)
    tx = st.declare(nodes[0])
    assert "StageCommitClosed" in tx.events          # 2C - 1 = 1
    assert "StageFinalised" in st.reveal(nodes[0]).events


def test_reveal_of_a_failed_attempt_is_refused_after_the_next_starts(escrow, job, nodes):
    st = declared(escrow, job, nodes, n=2)
    chain.sleep(REVEAL_WINDOW)
    Stage(escrow, job, 1).declare(nodes[2])          # attempt 1 starts
    with reverts("RevealPhaseClosed"):
        st.reveal(nodes[0])
