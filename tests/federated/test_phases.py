"""A round's phase from chain time: the contract's own boundaries (commit end and reveal end
belong to the phase after them)."""

from __future__ import annotations

import pytest

from zkpot.federated.phases import RoundNotOver, RoundPhase, RoundPhases

PHASES = RoundPhases(start=1000, commit_end=1300, reveal_end=1420)


@pytest.mark.parametrize("now, phase, left", [
    (1000, RoundPhase.commit, 300), (1299, RoundPhase.commit, 1),
    (1300, RoundPhase.reveal, 120), (1419, RoundPhase.reveal, 1),
    (1420, RoundPhase.over, 0), (99999, RoundPhase.over, 0),
])
def test_phase_at_follows_the_contracts_boundaries(now, phase, left):
    assert PHASES.phase_at(now) is phase
    assert PHASES.seconds_left(now) == left


def test_round_not_over_says_when_the_round_can_be_closed():
    err = RoundNotOver(3, reveal_end=1420, now=1300)
    assert err.seconds_left == 120
    assert str(err) == "round 3's reveal phase ends at chain time 1420, in 120 s: it cannot be closed before"
