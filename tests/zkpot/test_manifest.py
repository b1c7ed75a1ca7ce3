"""Manifest: canonical encoding, hash, CID and validation."""

import json

import pytest

from zkpot.hashing import canonical_json, keccak
from zkpot.manifest import Manifest, ManifestError, build_manifest, correct_threshold
from zkpot.spec import preset
from zkpot.stage import initial_weights
from zkpot.storage import cid_v1


def make(**overrides):
    spec = preset("digits-mlp")
    s0 = initial_weights(spec).to_bytes()
    args = dict(spec=spec, input_shape=(64,), num_classes=10, chunk_cids=[cid_v1(b"c1"), cid_v1(b"c2")],
                chunk_sizes=[32, 32], test_commitments=[b"\x07" * 32], test_size=64, replication=3,
                reward_per_declaration_wei=10**18, theta=0.9, deadline=1_900_000_000,
                initial_weights_cid=cid_v1(s0), initial_weights_hash=keccak(s0))
    args.update(overrides)
    return build_manifest(**args)


def test_canonical_bytes_hash_and_cid():
    m = make()
    data = m.to_bytes()
    assert b" " not in data and data == json.dumps(json.loads(data), sort_keys=True, separators=(",", ":")).encode()
    assert m.keccak() == keccak(data) and m.cid() == cid_v1(data)
    assert Manifest.from_bytes(data) == m and m.stages == 2 and m.theta_bps == 9000
    assert m.reward_per_declaration_wei == "1000000000000000000"
    assert m.model_spec == preset("digits-mlp")


def test_any_field_change_changes_the_hash():
    assert make().keccak() != make(replication=4).keccak()
    assert make().keccak() != make(chunk_cids=[cid_v1(b"c1"), cid_v1(b"c3")]).keccak()


def test_non_canonical_bytes_are_refused():
    pretty = json.dumps(json.loads(make().to_bytes()), indent=1).encode()
    with pytest.raises(ManifestError, match="canonical"):
        Manifest.from_bytes(pretty)


@pytest.mark.parametrize("overrides,msg", [
    ({"chunk_sizes": [32]}, "2 chunks but 1 chunk sizes"),
    ({"chunk_cids": ["Qmabc"]}, "CIDv1"),
    ({"test_commitments": [b"\x01" * 31]}, "32 bytes"),
    ({"replication": 0}, "replication"),
    ({"theta": 1.5}, "theta_bps"),
    ({"reward_per_declaration_wei": -1}, "uint256"),
    ({"num_classes": 9}, "spec: the last layer outputs"),
])
def test_invalid_manifests(overrides, msg):
    if "chunk_cids" in overrides:
        overrides["chunk_sizes"] = [1]
    with pytest.raises(ManifestError, match=msg):
        make(**overrides)


def test_from_bytes_rejects_garbage():
    with pytest.raises(ManifestError):
        Manifest.from_bytes(b"{}")
    with pytest.raises(ManifestError):
        Manifest.from_bytes(b"\xff")


@pytest.mark.parametrize("bps,samples,expected", [(7000, 80, 56), (5000, 64, 32), (9000, 81, 73),
                                                  (10_000, 7, 7), (0, 9, 0), (1, 1, 1)])
def test_threshold_is_the_exact_ceiling_of_theta_times_the_test_set(bps, samples, expected):
    assert correct_threshold(bps, samples) == expected


def test_a_version_1_manifest_reads_and_hashes_as_posted():
    """Version 1 named the per-declaration reward ``reward_per_stage_wei``: a job posted before
    the rename keeps its manifest, its hash and its CID; an unknown version is refused for its
    version, not for a field it does not know."""
    doc = json.loads(make().to_bytes())
    doc["version"] = 1
    doc["reward_per_stage_wei"] = doc.pop("reward_per_declaration_wei")
    v1 = canonical_json(doc)
    manifest = Manifest.from_bytes(v1)
    assert manifest.to_bytes() == v1 and manifest.keccak() == keccak(v1)
    assert manifest.reward_per_declaration_wei == doc["reward_per_stage_wei"]
    doc["version"] = 3
    with pytest.raises(ManifestError, match="unsupported manifest version 3 .*reads versions 1, 2"):
        Manifest.from_bytes(canonical_json(doc))
