"""Contract errors as reasons a user can act on.

The chain client decodes a revert into ``ContractError(name, args)``; shown raw, a bytes32
argument is hex (``JobParamInvalid(0x616d6f756e74…)``). :func:`explain` shows short ASCII
names as strings (``JobParamInvalid("amount")``) and adds a sentence for the errors a door
meets. Pure: it only reads the error's name and arguments.
"""

from __future__ import annotations

from typing import Any

# what a JobParamInvalid(name) means (contracts/escrow/JobLedger.sol, _checkParams)
PARAM_REASONS = {
    "stages": "the stage count must be in 1..65535",
    "confirmations": "C (agreeing nodes per stage) must be in 1..255",
    "amount": "reward and bounty must each be at most 2^64 - 1 wei (about 18.4 ETH)",
    "shards": "the test set must make 1..32 proof shards",
    "samples": "the test set must hold 1..2^32 - 1 samples",
    "threshold": "the accuracy threshold must be 1..samples correct predictions (θ > 0)",
    "verifier": "the accuracy verifier address holds no contract on this chain",
    "deadline": "the deadline must be in the future (chain time) and before 2106",
    "testSetWindow": "the test-set window must be 1 s .. 365 days",
    "proofWindow": "the proof window must be 1 s .. 365 days",
}

_STATUS = ["none", "training", "awaiting the test set", "proving", "completed", "closed"]

REASONS = {
    "EscrowMismatch": "the value sent is not stages × C × reward + bounty",
    "JobStatusInvalid": "the job is not in a state that allows this",
    "DeadlinePassed": "the job's deadline has passed",
    "DeadlineNotReached": "the deadline has not been reached yet",
    "CallerNotEmployer": "only the job's employer may do this",
    "StageNotOpen": "this stage does not take declarations now",
    "TestSetMismatch": "the proof is of another test set than the one committed for this shard",
    "ModelMismatch": "the proof is of another model than the one it must certify",
    "DeclarationDuplicated": "this node already declared this stage",
    "NothingToWithdraw": "there is no credit to withdraw",
    "TransferFailed": "sending the credit failed (it stays credited)",
    "StakeTooLow": "the stake is below the registry's minimum",
    "NodeAlreadyRegistered": "the node is already registered",
    "NodeNotRegistered": "the node is not registered",
    "NodeExiting": "the node is exiting",
    "ExitNotRequested": "the node has not requested to exit",
    "ExitNotReady": "the exit cooldown has not passed yet",
    "PaymentUnexpected": "the contract takes no plain payments",
}


def _arg(value: Any) -> str:
    """A bytes32 that holds a short ASCII name as a string, other bytes as hex, the rest as is."""
    if isinstance(value, (bytes, bytearray)):
        text = bytes(value).rstrip(b"\0")
        if text and all(0x20 < b < 0x7F for b in text) and len(text) < len(value):
            return '"' + text.decode("ascii") + '"'
        return "0x" + bytes(value).hex()
    if isinstance(value, str):
        return repr(value)
    return str(value)


def param_name(value: Any) -> str | None:
    """The ASCII name in a bytes32 argument, or None."""
    shown = _arg(value)
    return shown[1:-1] if shown.startswith('"') else None


def explain(error: Exception) -> str:
    """``Name("arg", …): sentence`` for a ``ContractError``; ``str(error)`` for anything else."""
    name = getattr(error, "name", None)
    args = getattr(error, "args_", None)
    if name is None or args is None:
        return str(error)
    call = f"{name}({', '.join(_arg(a) for a in args)})"
    if name == "Error" and args:  # a revert string
        return f"reverted: {args[0]}"
    if name == "JobParamInvalid" and args:
        reason = PARAM_REASONS.get(param_name(args[0]) or "", "a job parameter is out of range")
        return f"{call}: {reason}"
    if name == "JobStatusInvalid" and len(args) >= 2 and 0 <= int(args[1]) < len(_STATUS):
        return f"{call}: job {args[0]} is {_STATUS[int(args[1])]}, which does not allow this"
    reason = REASONS.get(name)
    return f"{call}: {reason}" if reason else call


def unreachable(error: Exception) -> str:
    """Why a connection to the chain failed, in a few words (not the transport's whole text)."""
    text = str(error).lower()
    if "refused" in text:
        return "connection refused"
    if "timed out" in text or "timeout" in text:
        return "timed out"
    if "name or service not known" in text or "nodename nor servname" in text:
        return "unknown host"
    first = str(error).splitlines()[0] if str(error) else type(error).__name__
    return first[:160]
