"""Which stages a node picks (open, funded, best reward first, within capacity), and which
shards it proves (its designated ones at once, other finalists' after a grace period, never
as a non-finalist)."""

from zkpot.node.strategy import StageOffer, choose, designated_prover, grace_period, proof_turn


def offer(job, reward, **kw):
    base = dict(job_id=job, stage=1, attempt=0, reward=reward, declarations=0, max_declarations=3,
                deadline=10_000, funded=True)
    return StageOffer(**{**base, **kw})


def test_best_paid_open_stages_first_within_capacity():
    chosen, skipped = choose([offer(1, 5), offer(2, 9), offer(3, 7)], capacity=2, busy=set(),
                             now=0)
    assert [o.job_id for o in chosen] == [2, 3]
    assert [(s.job_id, s.reason) for s in skipped] == [(1, "no free capacity")]


def test_closed_unfunded_declared_or_late_stages_are_left_with_a_reason():
    offers = [offer(1, 9, final=True), offer(2, 9, funded=False), offer(3, 9, declared_by_me=True),
              offer(4, 9, declarations=3), offer(5, 9, deadline=5)]
    chosen, skipped = choose(offers, capacity=8, busy=set(), now=10)
    assert chosen == []
    reasons = {s.job_id: s.reason for s in skipped}
    assert reasons[1] == "stage already final" and "escrow" in reasons[2]
    assert "declared" in reasons[3] and "3 declarations are in" in reasons[4] and "deadline" in reasons[5]


def test_busy_slots_count_against_capacity():
    chosen, _ = choose([offer(1, 5)], capacity=1, busy={(9, 1)}, now=0)
    assert chosen == []


# ---- who proves a shard ------------------------------------------------------------------

A, B, C = ("0x" + "0a" * 20, "0x" + "0B" * 20, "0x" + "c0" * 20)
OUTSIDER = "0x" + "ee" * 20


def turn(me, shard=0, *, job=1, now=1_000, finalists=(C, A, B), **kw):
    base = dict(finalists=finalists, published_at=1_000, proof_deadline=1_000 + 86_400,
                now=now, grace_s=600)
    return proof_turn(me, job, shard, **{**base, **kw})


def test_designated_prover_rotates_over_finalists_in_address_order():
    # (job + shard) % 3 over [A, B, C]; input order and address case do not matter
    assert designated_prover(1, 0, [C, A, B]) == B
    assert designated_prover(1, 1, [B.lower(), C, A]).lower() == C
    assert designated_prover(2, 1, [A, B, C]) == A
    assert designated_prover(3, 0, [A, A, B]) == B
    assert designated_prover(1, 0, []) is None


def test_only_the_designated_node_proves_at_once():
    assert turn(B).prove and turn(B).reason == "designated prover"
    waiting = [turn(me) for me in (A, C)]
    assert not any(t.prove for t in waiting)
    assert {t.not_before for t in waiting} == {1_600}
    assert B in waiting[0].reason


def test_other_finalists_prove_a_shard_still_unproven_after_the_grace_period():
    assert not turn(A, now=1_599).prove
    assert turn(A, now=1_600).prove and turn(C.upper().replace("0X", "0x"), now=5_000).prove


def test_a_node_that_is_not_a_finalist_never_proves():
    # the escrow refuses proofs from anyone but the finalists (CallerNotFinalist)
    for now in (1_000, 1_600, 50_000):
        t = turn(OUTSIDER, now=now)
        assert not t.prove and t.not_before == 0 and "not a finalist" in t.reason
    assert not turn(A, finalists=()).prove


def test_a_proven_shard_is_proven_by_nobody():
    assert not turn(B, proven=True).prove and not turn(A, now=9_999, proven=True).prove


def test_grace_leaves_half_the_proof_window_to_standby_nodes():
    assert grace_period(600, 1_000, 1_300) == 150
    assert turn(A, now=1_150, proof_deadline=1_300).prove
    assert grace_period(600, 1_000, 1_000 + 86_400) == 600 and grace_period(600, 1_000, 900) == 0
