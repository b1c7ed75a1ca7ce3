"""Which stages a node picks: open, funded, best reward first, within capacity."""

from zkpot.node.strategy import StageOffer, choose


def offer(job, reward, **kw):
    base = dict(job_id=job, stage=1, reward=reward, declarations=0, quorum=2,
                deadline=10_000, funded=True)
    return StageOffer(**{**base, **kw})


def test_best_paid_open_stages_first_within_capacity():
    chosen, skipped = choose([offer(1, 5), offer(2, 9), offer(3, 7)], capacity=2, busy=set(),
                             now=0)
    assert [o.job_id for o in chosen] == [2, 3]
    assert [(s.job_id, s.reason) for s in skipped] == [(1, "no free capacity")]


def test_closed_unfunded_declared_or_late_stages_are_left_with_a_reason():
    offers = [offer(1, 9, final=True), offer(2, 9, funded=False), offer(3, 9, declared_by_me=True),
              offer(4, 9, declarations=2), offer(5, 9, deadline=5)]
    chosen, skipped = choose(offers, capacity=8, busy=set(), now=10)
    assert chosen == []
    reasons = {s.job_id: s.reason for s in skipped}
    assert reasons[1] == "stage already final" and "escrow" in reasons[2]
    assert "declared" in reasons[3] and "2 of 2" in reasons[4] and "deadline" in reasons[5]


def test_busy_slots_count_against_capacity():
    chosen, _ = choose([offer(1, 5)], capacity=1, busy={(9, 1)}, now=0)
    assert chosen == []
