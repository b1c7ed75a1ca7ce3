from brownie import chain

from conftest import MODEL, Stage, reverts


def test_declare_emits_stage_declared(escrow, job, nodes):
    st = Stage(escrow, job, 1)
    tx = st.declare(nodes[0])
    ev = tx.events["StageDeclared"]
    assert (ev["jobId"], ev["stage"], ev["node"], ev["modelCommitment"]) == (job, 1, nodes[0], MODEL)
    assert escrow.declarationOf(job, nodes[0])[0] == 1
    assert escrow.agreementOf(job, 1, st.weights, MODEL) == 1


def test_declare_cth_agreement_emits_stage_agreed(escrow, job, nodes):
    st = Stage(escrow, job, 1)
    st.declare(nodes[0])
    st.declare(nodes[1])
    assert "StageAgreed" in st.declare(nodes[2]).events


def test_declare_different_weights_emits_stage_conflicted(escrow, job, nodes):
    st = Stage(escrow, job, 1)
    st.declare(nodes[0])
    tx = st.declare(nodes[1], weights=b"\x01" * 32)
    assert tx.events["StageConflicted"]["node"] == nodes[1]


def test_declare_conflicted_once_per_new_pair(escrow, job, nodes):
    st = Stage(escrow, job, 1)
    st.declare(nodes[0])
    other = b"\x01" * 32
    assert "StageConflicted" in st.declare(nodes[1], weights=other).events
    assert "StageConflicted" not in st.declare(nodes[2], weights=other).events
    assert "StageConflicted" in st.declare(nodes[3], model=MODEL + 1).events
    assert escrow.agreementOf(job, 1, st.weights, MODEL) == 1
    assert escrow.agreementOf(job, 1, other, MODEL) == 2
    assert escrow.agreementOf(job, 1, st.weights, MODEL + 1) == 1


def test_declare_pair_after_the_first_agrees_and_is_capped(escrow, job, nodes):
    # the stage's first pair is a wrong one: the pair declared after it still counts to C
    st = Stage(escrow, job, 1)
    st.declare(nodes[3], weights=b"\x09" * 32)
    st.declare(nodes[0])
    st.declare(nodes[1])
    tx = st.declare(nodes[2])
    assert tx.events["StageAgreed"]["weightsHash"] == "0x" + st.weights.hex()
    assert escrow.agreementOf(job, 1, st.weights, MODEL) == 3
    with reverts("AgreementReached"):
        st.declare(nodes[4])
    # the first pair is still counted apart, and capped at C too
    assert escrow.agreementOf(job, 1, b"\x09" * 32, MODEL) == 1


def test_declare_next_stage_counts_from_zero(escrow, job, nodes):
    first = Stage(escrow, job, 1)
    for node in nodes[:3]:
        first.declare(node)
    first.reveal(nodes[0])
    assert escrow.agreementOf(job, 1, first.weights, MODEL) == 0  # final: not open any more
    second = Stage(escrow, job, 2, weights=first.weights)  # even the same pair counts anew
    second.declare(nodes[1])
    assert escrow.agreementOf(job, 2, first.weights, MODEL) == 1
    assert escrow.getJob(job).dict()["declarations"] == 1


def test_declare_second_pair_of_a_stage_counts_anew_in_the_next(escrow, job, nodes):
    # stage 1: a wrong pair first, so the honest pair is the stage's second and finalises it
    first = Stage(escrow, job, 1)
    first.declare(nodes[3], weights=b"\x09" * 32)
    for node in nodes[:3]:
        first.declare(node)
    first.reveal(nodes[0])
    assert escrow.agreementOf(job, 1, first.weights, MODEL) == 0
    # stage 2: the same pair is again the second one declared, and counts from one
    second = Stage(escrow, job, 2, weights=first.weights)
    second.declare(nodes[4], weights=b"\x0a" * 32)
    assert "StageConflicted" in second.declare(nodes[1]).events
    assert escrow.agreementOf(job, 2, first.weights, MODEL) == 1
    # a third pair is counted apart from both
    second.declare(nodes[2], weights=b"\x0b" * 32)
    second.declare(nodes[0])
    assert [escrow.agreementOf(job, 2, w, MODEL) for w in (b"\x0a" * 32, first.weights, b"\x0b" * 32)] == [1, 2, 1]


def test_declare_after_cth_agreement_reverts(escrow, job, nodes):
    st = Stage(escrow, job, 1)
    for node in nodes[:3]:
        st.declare(node)
    with reverts("AgreementReached"):
        st.declare(nodes[3])


def test_declare_twice_reverts(escrow, job, nodes):
    st = Stage(escrow, job, 1)
    st.declare(nodes[0])
    with reverts("DeclarationDuplicated"):
        st.declare(nodes[0], weights=b"\x02" * 32)


def test_declare_wrong_stage_reverts(escrow, job, nodes):
    with reverts("StageNotOpen"):
        Stage(escrow, job, 2).declare(nodes[0])


def test_declare_unregistered_reverts(escrow, job, accounts):
    with reverts("NodeNotRegistered"):
        Stage(escrow, job, 1).declare(accounts[7])


def test_declare_exiting_node_reverts(escrow, registry, job, nodes):
    registry.requestExit({"from": nodes[0]})
    with reverts("NodeExiting"):
        Stage(escrow, job, 1).declare(nodes[0])


def test_declare_unknown_job_reverts(escrow, nodes):
    with reverts("JobStatusInvalid"):
        Stage(escrow, 99, 1).declare(nodes[0])


def test_declare_after_deadline_reverts(escrow, job, nodes):
    chain.sleep(11 * 24 * 3600)
    with reverts("DeadlinePassed"):
        Stage(escrow, job, 1).declare(nodes[0])
