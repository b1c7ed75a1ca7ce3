"""What ``createJob`` accepts, checked before any work is done or anything is stored.

These mirror ``JobLedger._checkParams`` (contracts/escrow/JobLedger.sol) so that a job the
contract would refuse is refused here first, with the field and the limit in words, and
never after its chunks, weights, manifest and test set have been written. Pure: no chain.
"""

from __future__ import annotations

from dataclasses import dataclass

UINT16_MAX = 2**16 - 1
UINT32_MAX = 2**32 - 1
UINT64_MAX = 2**64 - 1
MAX_CONFIRMATIONS = 2**8 - 1     # type(uint8).max
MAX_SHARDS = 32                   # JobLedger.MAX_SHARDS
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
    deadline: int
    test_set_window: int
    proof_window: int

    @property
    def escrow(self) -> int:
        return self.stages * self.confirmations * self.reward + self.bounty


def _eth(wei: int) -> str:
    return f"{wei / 10**18:.4g} ETH"


def check_amounts(reward: int, bounty: int) -> None:
    """Reward and bounty each fit the contract's uint64 (about 18.4 ETH)."""
    for field, value in (("reward_per_stage", reward), ("bounty", bounty)):
        if value < 0:
            raise TermsError(field, f"{value} wei is negative")
        if value > UINT64_MAX:
            raise TermsError(field, f"{value} wei is over the contract's limit of {UINT64_MAX} wei "
                                    f"(2^64 - 1, about {_eth(UINT64_MAX)})")


def check_stages(stages: int, max_stages: int) -> None:
    """The stage count is at least one and within this deployment's cap (and uint16)."""
    cap = min(max_stages, UINT16_MAX)
    if stages < 1:
        raise TermsError("stages", "the job has no stage")
    if stages > cap:
        raise TermsError("stages", f"the data and Δ make {stages} stages; at most {cap} are "
                                   "allowed (ZKPOT_MAX_STAGES): raise stage_flops or use fewer epochs")


def check_escrow_terms(t: EscrowTerms, now: int, max_stages: int = UINT16_MAX) -> None:
    """Every check of ``_checkParams`` except the verifier's code (a chain read), in its order."""
    check_stages(t.stages, max_stages)
    if not 1 <= t.confirmations <= MAX_CONFIRMATIONS:
        raise TermsError("quorum", f"C = {t.confirmations} must be in 1..{MAX_CONFIRMATIONS}")
    check_amounts(t.reward, t.bounty)
    if not 1 <= t.shards <= MAX_SHARDS:
        raise TermsError("shard_size", f"the test set makes {t.shards} proof shards; the contract "
                                       f"takes 1..{MAX_SHARDS}: use larger shards")
    if not 1 <= t.samples <= UINT32_MAX:
        raise TermsError("samples", f"{t.samples} test samples must be in 1..{UINT32_MAX}")
    if not 1 <= t.threshold <= t.samples:
        raise TermsError("theta", f"θ gives a threshold of {t.threshold} correct predictions out "
                                  f"of {t.samples}; it must be in 1..{t.samples} (θ > 0)")
    if t.deadline <= now:
        raise TermsError("deadline", f"the deadline {t.deadline} is not in the future")
    if t.deadline > UINT32_MAX:
        raise TermsError("deadline", f"the deadline {t.deadline} is after {UINT32_MAX} (year 2106)")
    for field, value in (("test_set_window", t.test_set_window), ("proof_window", t.proof_window)):
        if not 1 <= value <= MAX_WINDOW_S:
            raise TermsError(field, f"{value} s must be in 1..{MAX_WINDOW_S} (365 days)")
