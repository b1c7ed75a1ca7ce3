"""The job manifest: what the employer commits to on-chain with the escrow deposit.

Canonical encoding: JSON with sorted keys, no whitespace, ASCII only (``canonical_json``);
byte strings as ``0x``-prefixed lower-case hex, wei amounts as decimal strings, θ in basis
points. Its keccak256 and CIDv1 go on-chain.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from zkpot.hashing import canonical_json, keccak
from zkpot.spec import ModelSpec, SpecError
from zkpot.storage import StorageError, cid_v1, parse_cid

MANIFEST_VERSION = 2   # what this zkpot writes
# version 1 named the per-declaration reward ``reward_per_stage_wei``; it is read (jobs posted
# before the rename still train and audit) and written back byte for byte
READ_VERSIONS = (1, 2)
_V1_REWARD = "reward_per_stage_wei"
_HEX32 = re.compile(r"^0x[0-9a-f]{64}$")


class ManifestError(ValueError):
    """A manifest is malformed or inconsistent."""


class Manifest(BaseModel):
    """A delegated-training job: spec, data chunks, test commitments, C, rewards, θ, deadline, S_0."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    version: int = MANIFEST_VERSION
    spec: dict[str, Any]
    input_shape: list[int] = Field(min_length=1)
    num_classes: int = Field(ge=2)
    chunks: list[str] = Field(min_length=1)          # CIDs of B_1..B_t
    chunk_sizes: list[int] = Field(min_length=1)
    test_commitments: list[str]                      # bytes32 hex, one per test shard
    test_size: int = Field(ge=0)
    replication: int = Field(ge=1, le=64)            # C
    reward_per_declaration_wei: str
    theta_bps: int = Field(ge=0, le=10_000)          # accuracy threshold θ x 10^4
    deadline: int = Field(ge=0)                      # unix seconds
    initial_weights_cid: str
    initial_weights_hash: str

    @field_validator("chunks", "initial_weights_cid")
    @classmethod
    def _cids(cls, value):
        for cid in [value] if isinstance(value, str) else value:
            try:
                parse_cid(cid)
            except StorageError as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("test_commitments")
    @classmethod
    def _commitments(cls, value):
        for item in value:
            if not _HEX32.match(item):
                raise ValueError(f"{item!r} is not 0x-prefixed lower-case hex of 32 bytes")
        return value

    @field_validator("initial_weights_hash")
    @classmethod
    def _hash(cls, value):
        if not _HEX32.match(value):
            raise ValueError(f"{value!r} is not 0x-prefixed lower-case hex of 32 bytes")
        return value

    @field_validator("reward_per_declaration_wei")
    @classmethod
    def _wei(cls, value):
        if not value.isdigit() or int(value) >= 2**256:
            raise ValueError("must be a decimal string of a uint256")
        return str(int(value))

    @model_validator(mode="before")
    @classmethod
    def _version(cls, data):
        # before the fields: an unknown version's field names would hide the real reason
        if not isinstance(data, dict):
            return data
        version = data.get("version", MANIFEST_VERSION)
        if version not in READ_VERSIONS:
            raise ValueError(f"unsupported manifest version {version!r} (this zkpot reads "
                             f"versions {', '.join(map(str, READ_VERSIONS))})")
        if version == 1 and _V1_REWARD in data:
            data = {("reward_per_declaration_wei" if k == _V1_REWARD else k): v for k, v in data.items()}
        return data

    @model_validator(mode="after")
    def _consistent(self):
        if len(self.chunks) != len(self.chunk_sizes):
            raise ValueError(f"{len(self.chunks)} chunks but {len(self.chunk_sizes)} chunk sizes")
        try:
            ModelSpec.from_json(self.spec).check_against(tuple(self.input_shape), self.num_classes)
        except SpecError as exc:
            raise ValueError(f"spec: {exc}") from None
        return self

    @property
    def model_spec(self) -> ModelSpec:
        """The parsed model spec."""
        return ModelSpec.from_json(self.spec)

    @property
    def stages(self) -> int:
        """t, the number of stages."""
        return len(self.chunks)

    def to_bytes(self) -> bytes:
        """Canonical bytes (see module doc), in the manifest's own version's field names."""
        doc = self.model_dump(mode="json")
        if self.version == 1:
            doc[_V1_REWARD] = doc.pop("reward_per_declaration_wei")
        return canonical_json(doc)

    def keccak(self) -> bytes:
        """keccak256 of the canonical bytes (the on-chain manifest hash)."""
        return keccak(self.to_bytes())

    def cid(self) -> str:
        """CIDv1 of the canonical bytes."""
        return cid_v1(self.to_bytes())

    @classmethod
    def from_bytes(cls, data: bytes) -> "Manifest":
        """Parse and validate; the bytes must be the canonical encoding."""
        try:
            manifest = cls.model_validate(json.loads(data))
        except (ValueError, ValidationError) as exc:
            raise ManifestError(f"invalid manifest: {exc}") from None
        if manifest.to_bytes() != bytes(data):
            raise ManifestError("manifest bytes are not in canonical form")
        return manifest


def correct_threshold(theta_bps: int, samples: int) -> int:
    """⌈θ·|T|⌉ in integers, θ in basis points: the escrow's threshold (a float product rounds
    up past a whole number: ⌈0.7 · 80⌉ in floats is 57)."""
    return -(-int(theta_bps) * int(samples) // 10_000)


def build_manifest(spec: ModelSpec, input_shape, num_classes: int, chunk_cids: list[str], chunk_sizes: list[int],
                   test_commitments: list[bytes], test_size: int, replication: int, reward_per_declaration_wei: int,
                   theta: float, deadline: int, initial_weights_cid: str, initial_weights_hash: bytes) -> Manifest:
    """Assemble and validate a manifest (θ as a fraction, rounded to basis points)."""
    try:
        return Manifest(
            spec=spec.to_dict(), input_shape=list(input_shape), num_classes=num_classes,
            chunks=list(chunk_cids), chunk_sizes=[int(s) for s in chunk_sizes],
            test_commitments=["0x" + bytes(c).hex() for c in test_commitments], test_size=test_size,
            replication=replication, reward_per_declaration_wei=str(int(reward_per_declaration_wei)),
            theta_bps=round(theta * 10_000), deadline=int(deadline),
            initial_weights_cid=initial_weights_cid, initial_weights_hash="0x" + bytes(initial_weights_hash).hex())
    except ValidationError as exc:
        raise ManifestError(f"invalid manifest: {exc}") from None
