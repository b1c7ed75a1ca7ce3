"""Node identity: from the environment or an encrypted keystore; never shown in reprs."""

from __future__ import annotations

import stat

import pytest

from zkpot.config import Settings
from zkpot.devnet import dev_private_keys
from zkpot.node.identity import IdentityError, init_keystore, load_identity
from workers.queues import NodeQueues, node_slug

KEY = dev_private_keys(2)[1]


def test_key_from_env_gives_the_address_and_hides_the_key():
    identity = load_identity(Settings.from_env(environ={"ZKPOT_NODE_KEY": KEY}))
    assert identity.address == "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    assert KEY[2:] not in repr(identity)


def test_keystore_round_trip_is_owner_only_and_needs_the_password(tmp_path):
    path = tmp_path / "keys" / "node.json"
    made = init_keystore(path, "pw", KEY)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    settings = Settings.from_env(environ={}, node_keystore=str(path),
                                 node_keystore_password="pw")
    assert load_identity(settings).address == made.address
    # queues are named from the keystore's address without decrypting it
    assert NodeQueues(node_slug(settings)).chain == f"zkpot.{made.slug}.chain"
    with pytest.raises(IdentityError, match="wrong password"):
        load_identity(settings.model_copy(update={"node_keystore_password": "nope"}))
    with pytest.raises(IdentityError, match="already exists"):
        init_keystore(path, "pw")


def test_no_key_configured_says_how_to_make_one():
    with pytest.raises(IdentityError, match="zkpot node init"):
        load_identity(Settings.from_env(environ={}))
