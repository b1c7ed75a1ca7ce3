"""The commitment that binds an update to its submitter (commit, then reveal).

A zk proof of an update does not depend on who sends it, so a participant first commits,
in its own name, to the update it will submit, in the round's commit phase, and submits it in
the reveal phase that follows (when nobody can commit any more). Mirrors ``FederatedTask.updateCommitment``:

    keccak256(abi.encodePacked(uint256 taskId, uint32 round, address participant,
                               uint256 modelCommitment, keccak256(bytes(encryptedUpdateCid))))
"""

from __future__ import annotations

from zkpot.hashing import address_bytes, keccak


def update_commitment(task_id: int, round_: int, participant: str, model_commitment: int, cid: str) -> bytes:
    """32 + 4 + 20 + 32 + 32 bytes, hashed: what ``commitUpdate`` stores for this update."""
    return keccak(task_id.to_bytes(32, "big") + round_.to_bytes(4, "big") + address_bytes(participant)
                  + model_commitment.to_bytes(32, "big") + keccak(cid.encode()))
