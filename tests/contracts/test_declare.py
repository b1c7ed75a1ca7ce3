from brownie import chain

from conftest import COMMIT_WINDOW, DAY, MIN_STAKE, MODEL, REVEAL_WINDOW, SLASH, Stage, commitment, create_job, reverts


def attempt(escrow, job):
    return escrow.attemptOf(job).dict()


def test_declare_emits_stage_declared_with_nothing_copyable(escrow, job, nodes):
    st = Stage(escrow, job, 1)
    tx = st.declare(nodes[0])
    ev = tx.events["StageDeclared"]
    rho, weights, model, rand, _ = st.openings[nodes[0].address]
    assert (ev["jobId"], ev["stage"], ev["node"], ev["attempt"]) == (job, 1, nodes[0], 0)
    assert ev["commitment"] == "0x" + commitment(rho, weights, model, rand, nodes[0]).hex()
    # the event and the record hold one hash: no weights hash, model commitment or rand
    assert set(ev.keys()) == {"jobId", "stage", "node", "attempt", "commitment"}
    assert escrow.attemptOf(job).dict()["declarations"] == 1
    view = escrow.declarationOf(job, nodes[0]).dict()
    assert (view["stage"], view["attempt"], view["position"], view["settled"]) == (1, 0, 0, False)


def test_declare_locks_collateral(escrow, registry, job, nodes):
    Stage(escrow, job, 1).declare(nodes[0])
    assert registry.nodeOf(nodes[0]).dict()["locked"] == SLASH


def test_declare_twice_in_an_attempt_reverts(escrow, job, nodes):
    st = Stage(escrow, job, 1)
    st.declare(nodes[0])
    with reverts("DeclarationDuplicated"):
        st.declare(nodes[0])


def test_declare_cap_closes_the_commit_phase(escrow, job, nodes):
    # C = 3: the commit phase takes 2C - 1 = 5 declarations, then closes by count
    st = Stage(escrow, job, 1)
    for node in nodes[:4]:
        st.declare(node)
    assert attempt(escrow, job)["phase"] == 1
    tx = st.declare(nodes[4])
    assert tx.events["StageCommitClosed"]["revealDeadline"] == tx.timestamp + REVEAL_WINDOW
    a = attempt(escrow, job)
    assert (a["phase"], a["declarations"], a["maxDeclarations"]) == (2, 5, 5)
    with reverts("CommitPhaseClosed"):
        st.declare(nodes[5])


def test_declare_after_the_commit_window_reverts(escrow, job, nodes):
    st = Stage(escrow, job, 1)
    st.declare(nodes[0])
    chain.sleep(COMMIT_WINDOW + 1)
    with reverts("CommitPhaseClosed"):
        st.declare(nodes[1])


def test_declare_with_nobody_in_the_window_restarts_the_clock(escrow, job, nodes):
    chain.sleep(COMMIT_WINDOW + 10)
    tx = Stage(escrow, job, 1).declare(nodes[0])
    a = attempt(escrow, job)
    assert (a["attempt"], a["start"], a["phase"]) == (0, tx.timestamp, 1)


def test_declare_wrong_stage_reverts(escrow, job, nodes):
    with reverts("StageNotOpen"):
        Stage(escrow, job, 2).declare(nodes[0])


def test_declare_unregistered_reverts(escrow, job, accounts):
    with reverts("NodeNotRegistered"):
        Stage(escrow, job, 1).declare(accounts[8])


def test_declare_with_a_stake_below_the_minimum_reverts(escrow, registry, job, nodes):
    # slashed below the minimum: no new declaration until topped up
    st = Stage(escrow, job, 1)
    st.declare(nodes[3])
    st.run(nodes[:3])
    chain.sleep(REVEAL_WINDOW)
    escrow.settle(job, nodes[3], {"from": nodes[0]})
    with reverts("StakeBelowMinimum"):
        Stage(escrow, job, 2).declare(nodes[3])
    registry.topUp({"from": nodes[3], "value": MIN_STAKE})
    Stage(escrow, job, 2).declare(nodes[3])


def test_declare_exiting_node_reverts(escrow, registry, job, nodes):
    registry.requestExit({"from": nodes[0]})
    with reverts("NodeExiting"):
        Stage(escrow, job, 1).declare(nodes[0])


def test_declare_beyond_collateral_reverts(escrow, employer, verifier, nodes):
    # one stake backs two open declarations: a third job in parallel is refused
    jobs = [create_job(escrow, employer, verifier) for _ in range(3)]
    Stage(escrow, jobs[0], 1).declare(nodes[0])
    Stage(escrow, jobs[1], 1).declare(nodes[0])
    with reverts("CollateralInsufficient"):
        Stage(escrow, jobs[2], 1).declare(nodes[0])


def test_declare_after_deadline_reverts(escrow, job, nodes):
    chain.sleep(11 * DAY)
    with reverts("DeadlinePassed"):
        Stage(escrow, job, 1).declare(nodes[0])


def test_declare_too_close_to_the_deadline_reverts(escrow, employer, verifier, nodes):
    # an attempt must be able to end (commit + reveal windows) before the deadline
    job = create_job(escrow, employer, verifier, deadline=chain.time() + COMMIT_WINDOW + 100)
    with reverts("StageTooLate"):
        Stage(escrow, job, 1).declare(nodes[0])


def test_declare_starts_the_next_attempt_after_a_failed_one(escrow, job, nodes):
    st = Stage(escrow, job, 1)
    st.declare(nodes[0])
    st.declare(nodes[1])
    st.close_commit()
    st.reveal(nodes[0])
    with reverts("CommitPhaseClosed"):
        st.declare(nodes[2])             # the reveal phase is running
    chain.sleep(REVEAL_WINDOW)
    retry = Stage(escrow, job, 1)
    tx = retry.declare(nodes[2])
    failed = tx.events["StageAttemptFailed"]
    assert (failed["stage"], failed["attempt"], failed["declarations"]) == (1, 0, 2)
    assert tx.events["StageDeclared"]["attempt"] == 1
    a = attempt(escrow, job)
    assert (a["attempt"], a["declarations"], a["phase"]) == (1, 1, 1)


def test_declare_settles_the_previous_declaration_first(escrow, registry, job, nodes):
    first = Stage(escrow, job, 1)
    first.run(nodes[:3])
    tx = Stage(escrow, job, 2).declare(nodes[0])
    assert tx.events["DeclarationRewarded"]["node"] == nodes[0]
    # its collateral carried over: still one declaration's worth locked
    assert registry.nodeOf(nodes[0]).dict()["locked"] == SLASH


def test_declare_slashes_an_unopened_previous_declaration(escrow, registry, employer, job, nodes):
    registry.topUp({"from": nodes[3], "value": MIN_STAKE})    # stays above the minimum after a slash
    st = Stage(escrow, job, 1)
    st.declare(nodes[3])                      # never opened
    st.run(nodes[:3])
    chain.sleep(REVEAL_WINDOW)
    before = escrow.creditOf(employer)
    tx = Stage(escrow, job, 2).declare(nodes[3])
    assert tx.events["DeclarationSlashed"]["reason"] == 0
    assert escrow.creditOf(employer) - before == SLASH
    assert registry.nodeOf(nodes[3]).dict()["locked"] == SLASH


def test_declare_while_the_previous_can_still_be_opened_reverts(escrow, job, nodes):
    st = Stage(escrow, job, 1)
    st.declare(nodes[3])
    st.run(nodes[:3])                       # final; nodes[3] may still open until the deadline
    with reverts("DeclarationUnsettled"):
        Stage(escrow, job, 2).declare(nodes[3])
    st.reveal(nodes[3])                     # a late opening of the agreed values
    assert "DeclarationReleased" in Stage(escrow, job, 2).declare(nodes[3]).events


def test_declare_model_commitment_is_hidden_until_opened(escrow, job, nodes):
    st = Stage(escrow, job, 1, model=MODEL + 7)
    tx = st.declare(nodes[0])
    assert str(MODEL + 7) not in str(tx.events["StageDeclared"])
