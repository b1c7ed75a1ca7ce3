"""A node's identity: its signing key, from the environment or an encrypted keystore file.

One identity is one node: it has its own stake, its own chain sender (nonces never collide
because one process group sends for it) and its own folder of secrets under the state dir.
The key is never logged; ``NodeIdentity`` shows only the address.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from zkpot.config import Settings


class IdentityError(RuntimeError):
    """No usable node key: none configured, or the keystore cannot be opened."""


@dataclass(frozen=True)
class NodeIdentity:
    """A node's address and account (the key stays inside ``account``)."""

    address: str
    account: LocalAccount = field(repr=False, compare=False)

    @property
    def short(self) -> str:
        """A short, readable name for logs and queue names (``0xabcd…1234``)."""
        return f"{self.address[:6]}…{self.address[-4:]}"

    @property
    def slug(self) -> str:
        """The lower-case address without ``0x``: safe in file and queue names."""
        return self.address[2:].lower()


def default_keystore_path(settings: Settings) -> Path:
    """Where ``zkpot node init`` writes the keystore unless told otherwise."""
    return settings.state_dir / "keys" / "node.json"


def load_identity(settings: Settings) -> NodeIdentity:
    """The node's identity from ``ZKPOT_NODE_KEY``, else ``ZKPOT_NODE_KEYSTORE`` (+ password)."""
    if settings.node_key is not None:
        try:
            account = Account.from_key(settings.node_key.get_secret_value().strip())
        except Exception as exc:  # the message could echo key material: keep it out
            raise IdentityError("ZKPOT_NODE_KEY is not a valid private key") from None
        return NodeIdentity(account.address, account)
    path = settings.node_keystore
    if path is None:
        raise IdentityError(
            "no node key: set ZKPOT_NODE_KEY, or ZKPOT_NODE_KEYSTORE and "
            "ZKPOT_NODE_KEYSTORE_PASSWORD (create one with `zkpot node init`)"
        )
    return identity_from_keystore(Path(path), settings.node_keystore_password)


def identity_from_keystore(path: Path, password) -> NodeIdentity:
    """Decrypt a keystore (Web3 secret storage v3) with its password."""
    if not path.is_file():
        raise IdentityError(f"keystore {path} does not exist")
    if password is None:
        raise IdentityError("the keystore needs ZKPOT_NODE_KEYSTORE_PASSWORD")
    secret = password.get_secret_value() if hasattr(password, "get_secret_value") else password
    try:
        key = Account.decrypt(json.loads(path.read_text()), secret)
    except (ValueError, KeyError, json.JSONDecodeError):
        raise IdentityError(f"cannot open keystore {path}: wrong password or damaged file") from None
    account = Account.from_key(key)
    return NodeIdentity(account.address, account)


def init_keystore(path: Path, password: str, private_key: str | None = None) -> NodeIdentity:
    """Write a new keystore (a fresh key, or ``private_key``), readable by its owner only."""
    if path.exists():
        raise IdentityError(f"{path} already exists; refusing to overwrite a key")
    if not password:
        raise IdentityError("a keystore needs a non-empty password")
    account = Account.from_key(private_key) if private_key else Account.create()
    blob = json.dumps(Account.encrypt(account.key, password))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(blob)
        fh.flush()
        os.fsync(fh.fileno())
    return NodeIdentity(account.address, account)


def node_dir(settings: Settings, identity: NodeIdentity) -> Path:
    """This node's private folder under the state dir (secrets, cursor, logs)."""
    path = settings.state_dir / "nodes" / identity.slug
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path
