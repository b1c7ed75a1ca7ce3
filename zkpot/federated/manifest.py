"""The federated task's manifest: what a participant needs besides the chain.

Stored by CID (its CID goes on-chain with the task): the model spec (the architecture the
circuit proves), the input shape and classes, the circuit's shard size N, and the CID of the
public test set (encoded shards, in order) the proofs are made on. Canonical JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from zkpot.hashing import canonical_json
from zkpot.spec import ModelSpec, build_model

FORMAT = "zkpot-federated-task/1"


@dataclass(frozen=True)
class TaskManifest:
    spec: ModelSpec
    input_shape: tuple[int, ...]
    num_classes: int
    shard_size: int
    test_set_cid: str

    def encode(self) -> bytes:
        return canonical_json({"format": FORMAT, "spec": self.spec.to_dict(),
                               "input_shape": list(self.input_shape), "num_classes": self.num_classes,
                               "shard_size": self.shard_size, "test_set_cid": self.test_set_cid})

    @classmethod
    def decode(cls, data: bytes) -> "TaskManifest":
        raw = json.loads(data)
        if raw.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} manifest")
        return cls(spec=ModelSpec.from_json(raw["spec"]), input_shape=tuple(int(d) for d in raw["input_shape"]),
                   num_classes=int(raw["num_classes"]), shard_size=int(raw["shard_size"]),
                   test_set_cid=str(raw["test_set_cid"]))

    def model_factory(self) -> Callable:
        spec = self.spec
        return lambda: build_model(spec)
