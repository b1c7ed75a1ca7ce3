"""What travels in Flower messages: models as ArrayRecords, a committed update between its
commit and its reveal as a string in the node's state (the proofs are public after the reveal
anyway; the weights never travel in a message, only encrypted through the store)."""

from __future__ import annotations

import json

import torch
from flwr.app import ArrayRecord

from zkpot.federated.participant import PendingReveal, RoundOutcome
from zkpot.federated.phases import RoundPhases

# message config keys (Flower's kebab-case)
TASK_KEY, ROUND_KEY, CONTRACT_KEY = "zkpot-task", "zkpot-round", "zkpot-contract"
PENDING_KEY = "zkpot-pending"
REVEAL_ACTION = "train.reveal"


def to_arrays(state: dict[str, torch.Tensor]) -> ArrayRecord:
    return ArrayRecord({k: v.detach().float() for k, v in state.items()})


def from_arrays(arrays: ArrayRecord) -> dict[str, torch.Tensor]:
    return {k: v.float() for k, v in arrays.to_torch_state_dict().items()}


def encode_pending(pending: PendingReveal) -> str:
    o = pending.outcome
    return json.dumps({"task": pending.task_id, "phases": [pending.phases.start, pending.phases.commit_end,
                                                           pending.phases.reveal_end],
                       "proofs": [p.hex() for p in pending.proofs], "instances": pending.instances,
                       "outcome": {k: getattr(o, k) for k in ("participant", "round", "label", "proven_correct",
                                                              "threshold", "baseline", "step", "submitted",
                                                              "model_commitment", "cid", "commit_gas_used")}})


def decode_pending(text: str) -> PendingReveal:
    raw = json.loads(text)
    return PendingReveal(task_id=int(raw["task"]), phases=RoundPhases(*map(int, raw["phases"])),
                         proofs=[bytes.fromhex(p) for p in raw["proofs"]],
                         instances=[[int(v) for v in i] for i in raw["instances"]],
                         outcome=RoundOutcome(**raw["outcome"]))
