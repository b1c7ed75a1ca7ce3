"""The federated task's manifest: what a participant needs besides the chain.

Stored by CID (its CID goes on-chain with the task): the model spec (the architecture the
circuit proves), the input shape and classes, the circuit's shard size N and params (so every
participant sets up the circuit of the task's verifier, whatever its own defaults), and the CID
of the public test set (encoded shards, in order) the proofs are made on. Canonical JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from zkpot.hashing import canonical_json
from zkpot.spec import ModelSpec, build_model
from zkpot.zk.circuit import CircuitParams, ensure_circuit, lean_params

if TYPE_CHECKING:
    from zkpot.config import Settings
    from zkpot.zk.circuit import Circuit

FORMAT = "zkpot-federated-task/2"
FORMAT_V1 = "zkpot-federated-task/1"   # before the params were recorded: the defaults


@dataclass(frozen=True)
class TaskManifest:
    spec: ModelSpec
    input_shape: tuple[int, ...]
    num_classes: int
    shard_size: int
    test_set_cid: str
    params: CircuitParams = field(default_factory=CircuitParams)

    def encode(self) -> bytes:
        return canonical_json({"format": FORMAT, "spec": self.spec.to_dict(),
                               "input_shape": list(self.input_shape), "num_classes": self.num_classes,
                               "shard_size": self.shard_size, "test_set_cid": self.test_set_cid,
                               "circuit_params": asdict(self.params)})

    @classmethod
    def decode(cls, data: bytes) -> "TaskManifest":
        raw = json.loads(data)
        if raw.get("format") not in (FORMAT, FORMAT_V1):
            raise ValueError(f"not a {FORMAT} manifest")
        params = (CircuitParams.from_dict(raw["circuit_params"]) if raw["format"] == FORMAT
                  else CircuitParams())
        return cls(spec=ModelSpec.from_json(raw["spec"]), input_shape=tuple(int(d) for d in raw["input_shape"]),
                   num_classes=int(raw["num_classes"]), shard_size=int(raw["shard_size"]),
                   test_set_cid=str(raw["test_set_cid"]), params=params)

    def circuit(self, settings: "Settings") -> "Circuit":
        """The task's circuit (cached): the manifest's architecture, shard size and params."""
        return ensure_circuit(self.model_factory()(), self.input_shape, self.num_classes, self.shard_size,
                              settings, self.params)

    def model_factory(self) -> Callable:
        spec = self.spec
        return lambda: build_model(spec)


def update_circuit(spec: ModelSpec, input_shape: tuple[int, ...], num_classes: int, shard_size: int,
                   settings: "Settings") -> "Circuit":
    """The circuit a new task's updates are proven with (cached): every accepted update is one
    on-chain check, so a small statement goes without Freivalds' check (``lean_params``)."""
    model = build_model(spec)
    return ensure_circuit(model, input_shape, num_classes, shard_size, settings,
                          lean_params(model, input_shape, shard_size))
