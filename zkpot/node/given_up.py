"""A node's word that it gave a step up: signed by the node, checked by whoever shows it.

A step that fails the same way ``FAIL_LIMIT`` times is given up (``Node.record_failure``); the
node then tells the gateway, so the job's employer sees on the dashboard which node gave up
which stage and why. Nothing about it is on chain, so the report carries its own proof of
origin: an EIP-191 signature by the node's key over one line of text that names the chain,
the escrow, the job, the step and the time. The gateway shows a report only from a registered
node whose signature it recovers, only for a job of that escrow, and only while fresh
(``MAX_AGE_S``), so a report cannot be forged, moved to another deployment or replayed late.
The reason is the node's own words: shown as text, never as markup, and cut to ``REASON_MAX``.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_account import Account
from eth_account.messages import encode_defunct

STAGE_STEPS = ("train", "declare", "reveal")   # steps of one stage (1..stages)
JOB_STEPS = ("settle", "prove", "submit")      # steps of the whole job (stage 0)
KINDS = STAGE_STEPS + JOB_STEPS
REASON_MAX = 500
MAX_AGE_S = 900          # a report older than this is refused (a replay, or a stuck sender)
MAX_AHEAD_S = 120        # clocks disagree a little; a report from the future by more is refused


class ReportError(ValueError):
    """A report that is malformed or stale."""


class ReportNotSigned(ReportError):
    """A report whose signature is not the named node's (or cannot be read)."""


@dataclass(frozen=True)
class GivenUpReport:
    node: str          # checksummed address
    chain_id: int
    escrow: str        # checksummed address of the job escrow
    job_id: int
    stage: int         # the stage (0 for a job-level step: prove, submit, settle)
    kind: str
    reason: str
    at: int            # unix seconds

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ReportError(f"kind must be one of {', '.join(KINDS)}")
        if not 1 <= self.job_id < 2**64 or not 0 <= self.stage < 2**32:
            raise ReportError("job_id or stage out of range")
        if not self.reason.strip() or len(self.reason) > REASON_MAX:
            raise ReportError(f"reason must be 1 to {REASON_MAX} characters")

    @classmethod
    def of(cls, node: str, chain_id: int, escrow: str, job_id: int, stage: int, kind: str,
           reason: str, at: int) -> "GivenUpReport":
        """A report, its reason cut to ``REASON_MAX`` characters."""
        reason = reason.strip() or "no reason given"
        if len(reason) > REASON_MAX:
            reason = reason[:REASON_MAX - 1] + "…"
        return cls(node, chain_id, escrow, job_id, stage, kind, reason, at)

    def check_job(self, stages: int) -> None:
        """Raise ``ReportError`` unless the step exists in a job of ``stages`` stages."""
        if self.kind in STAGE_STEPS and not 1 <= self.stage <= stages:
            raise ReportError(f"job {self.job_id} has stages 1 to {stages}, not {self.stage}")
        if self.kind in JOB_STEPS and self.stage != 0:
            raise ReportError(f"{self.kind} is a step of the whole job: its stage is 0")

    def message(self) -> str:
        """The text the node signs (EIP-191 ``personal_sign``)."""
        return (f"zkpot given-up report\nnode: {self.node}\nchain: {self.chain_id}\n"
                f"escrow: {self.escrow}\njob: {self.job_id}\nstage: {self.stage}\n"
                f"step: {self.kind}\nat: {self.at}\nreason: {self.reason}")

    def sign(self, account) -> str:
        """The signature of ``message()`` by ``account`` (an eth_account ``LocalAccount``)."""
        return account.sign_message(encode_defunct(text=self.message())).signature.to_0x_hex()

    def check(self, signature: str, now: int) -> None:
        """Raise ``ReportError`` unless ``signature`` is the named node's and the report is fresh."""
        if not now - MAX_AGE_S <= self.at <= now + MAX_AHEAD_S:
            raise ReportError(f"the report is dated {self.at}, {now - self.at} s from now: reports "
                              f"are taken up to {MAX_AGE_S} s old")
        try:
            signer = Account.recover_message(encode_defunct(text=self.message()), signature=signature)
        except Exception:  # noqa: BLE001 - any undecodable signature is simply not the node's
            raise ReportNotSigned("the signature cannot be read") from None
        if signer.lower() != self.node.lower():
            raise ReportNotSigned("the report is not signed by the node it names")
