"""Queue names. Every node identity has its own queues, so many nodes can share one Redis.

- ``<node>.chain``: every transaction of the node and the chain watcher, consumed by ONE
  single-process worker: one sender per identity, nonces never collide.
- ``<node>.train.cpu`` / ``<node>.train.gpu``: stage training, on whichever device the node's
  training workers run.
- ``<node>.prove``: zk accuracy proofs (CPU and memory heavy), consumed by the node's prove
  worker alone: a process that never trains, so it never loads torch and its memory is the
  proof's (docs/zk.md measures it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from zkpot.config import Settings
from zkpot.node.identity import IdentityError


@dataclass(frozen=True)
class NodeQueues:
    slug: str  # the node's address, lower case, without 0x

    @property
    def prefix(self) -> str:
        return f"zkpot.{self.slug}"

    @property
    def chain(self) -> str:
        return f"{self.prefix}.chain"

    @property
    def prove(self) -> str:
        return f"{self.prefix}.prove"

    def train(self, device: str) -> str:
        return f"{self.prefix}.train.{'gpu' if device == 'gpu' else 'cpu'}"

    def worker_queues(self, role: str, device: str = "cpu") -> list[str]:
        """The queues a worker of ``role`` (``chain``, ``compute`` or ``prove``) consumes."""
        if role == "chain":
            return [self.chain]
        if role == "prove":
            return [self.prove]
        if role == "compute":
            return [self.train(device)]
        raise ValueError(f"unknown worker role {role!r}")


def node_slug(settings: Settings) -> str:
    """The node's address (lower, no 0x) without decrypting a keystore: it names the queues."""
    if settings.node_key is not None:
        from zkpot.node.identity import load_identity

        return load_identity(settings).slug
    if settings.node_keystore is not None and settings.node_keystore.is_file():
        address = json.loads(settings.node_keystore.read_text()).get("address", "")
        if address:
            return address.lower().removeprefix("0x")
    raise IdentityError("no node key configured (ZKPOT_NODE_KEY or ZKPOT_NODE_KEYSTORE)")
