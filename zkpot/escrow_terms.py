"""What ``createJob`` accepts, checked before any work is done or anything is stored.

These mirror ``JobLedger._checkParams`` (contracts/escrow/JobLedger.sol) so that a job the
contract would refuse is refused here first, with the field and the limit in words, and
never after its chunks, weights, manifest and test set have been written. Pure: no chain.
"""

from __future__ import annotations

from dataclasses import dataclass

UINT32_MAX = 2**32 - 1
UINT40_MAX = 2**40 - 1
UINT64_MAX = 2**64 - 1
# JobLedger's constants
MAX_STAGES = 10_000
MAX_CONFIRMATIONS = 32
MAX_SHARDS = 32
MIN_PHASE_WINDOW_S = 60           # a stage attempt's commit and reveal phases
MAX_PHASE_WINDOW_S = 30 * 86400
MIN_TEST_SET_WINDOW_S = 3600      # the employer's time to post the test set
MIN_PROOF_WINDOW_S = 3600         # covers proving a certificate (about a minute) with margin
MAX_WINDOW_S = 365 * 86400        # 365 days


class TermsError(ValueError):
    """A job term the contract (or this deployment's caps) would refuse; ``field`` names it."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class EscrowTerms:
    """The numbers ``createJob`` checks, as this job would send them."""

    stages: int
    confirmations: int
    reward: int
    bounty: int
    samples: int
    threshold: int
    shards: int
    distinct_shards: int
    deadline: int
    commit_window: int
    reveal_window: int
    test_set_window: int
    proof_window: int

    @property
    def escrow(self) -> int:
        return escrow_of(self.stages, self.confirmations, self.reward, self.bounty)


def escrow_of(stages: int, confirmations: int, reward: int, bounty: int) -> int:
    """What ``createJob`` escrows: C paid declarations per stage, and the bounty."""
    return stages * confirmations * reward + bounty


def _eth(wei: int) -> str:
    return f"{wei / 10**18:.4g} ETH"


def check_amounts(reward: int, bounty: int) -> None:
    """Reward and bounty each fit the contract's uint64 (about 18.4 ETH)."""
    for field, value in (("reward_per_declaration", reward), ("bounty", bounty)):
        if value < 0:
            raise TermsError(field, f"{value} wei is negative")
        if value > UINT64_MAX:
            raise TermsError(field, f"{value} wei is over the contract's limit of {UINT64_MAX} wei "
                                    f"(2^64 - 1, about {_eth(UINT64_MAX)})")


def check_stages(stages: int, max_stages: int) -> None:
    """The stage count is at least one and within this deployment's cap (and the contract's)."""
    cap = min(max_stages, MAX_STAGES)
    if stages < 1:
        raise TermsError("stages", "the job has no stage")
    if stages > cap:
        raise TermsError("stages", f"the data and Δ make {stages} stages; at most {cap} are "
                                   "allowed (ZKPOT_MAX_STAGES): raise stage_flops or use fewer epochs")


def check_escrow_terms(t: EscrowTerms, now: int, max_stages: int = MAX_STAGES) -> None:
    """Every check of ``_checkParams`` except the verifier's code (a chain read), in its order."""
    check_stages(t.stages, max_stages)
    if not 1 <= t.confirmations <= MAX_CONFIRMATIONS:
        raise TermsError("quorum", f"C = {t.confirmations} must be in 1..{MAX_CONFIRMATIONS}")
    check_amounts(t.reward, t.bounty)
    if not 1 <= t.shards <= MAX_SHARDS:
        raise TermsError("shard_size", f"the test set makes {t.shards} proof shards; the contract "
                                       f"takes 1..{MAX_SHARDS}: use larger shards")
    if t.distinct_shards != t.shards:
        raise TermsError("dataset", "two test shards have the same commitment (repeated samples): one "
                                    "proof must not count for two shards")
    if not 1 <= t.samples <= UINT32_MAX:
        raise TermsError("samples", f"{t.samples} test samples must be in 1..{UINT32_MAX}")
    if not 1 <= t.threshold <= t.samples:
        raise TermsError("theta", f"θ gives a threshold of {t.threshold} correct predictions out "
                                  f"of {t.samples}; it must be in 1..{t.samples} (θ > 0)")
    if t.deadline <= now:
        raise TermsError("deadline", f"the deadline {t.deadline} is not in the future")
    if t.deadline > UINT40_MAX:
        raise TermsError("deadline", f"the deadline {t.deadline} is beyond the contract's 40-bit time")
    for field, value, low, high in (
            ("commit_window", t.commit_window, MIN_PHASE_WINDOW_S, MAX_PHASE_WINDOW_S),
            ("reveal_window", t.reveal_window, MIN_PHASE_WINDOW_S, MAX_PHASE_WINDOW_S),
            ("test_set_window", t.test_set_window, MIN_TEST_SET_WINDOW_S, MAX_WINDOW_S),
            ("proof_window", t.proof_window, MIN_PROOF_WINDOW_S, MAX_WINDOW_S)):
        if not low <= value <= high:
            raise TermsError(field, f"{value} s must be in {low}..{high}")
    if t.deadline < now + t.commit_window + t.reveal_window:
        raise TermsError("deadline", "the deadline leaves no room for one stage attempt (its commit "
                                     "and reveal windows)")
