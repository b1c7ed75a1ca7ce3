"""Encryption of a participant's update to the employer's key.

Scheme (ECIES shape, all standard primitives from ``cryptography``):

1. the participant makes a fresh X25519 key pair per update (ephemeral key ``e``);
2. ``shared = X25519(e, employer_public)``;
3. ``key = HKDF-SHA256(shared, salt = e_pub || employer_public, info = INFO, length = 32)``;
4. ``ciphertext = AES-256-GCM(key).encrypt(nonce, update, aad)`` with a random 96-bit nonce.

The envelope is ``MAGIC || e_pub (32) || nonce (12) || ciphertext+tag``. The associated data
binds the envelope to (task, round, participant): an envelope copied into another
participant's submission does not decrypt, so the employer sees the copy for what it is.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAGIC = b"ZKFL\x01"
INFO = b"zkpot federated update v1"
KEY_BYTES = 32
NONCE_BYTES = 12


class DecryptionError(ValueError):
    """The envelope is malformed, was made for another key, or was bound to other data."""


@dataclass(frozen=True)
class EncryptionKeyPair:
    """The employer's X25519 key pair; the 32-byte public key goes on-chain with the task."""

    private: bytes
    public: bytes

    @classmethod
    def generate(cls) -> "EncryptionKeyPair":
        return cls.from_private(X25519PrivateKey.generate().private_bytes_raw())

    @classmethod
    def from_private(cls, private: bytes) -> "EncryptionKeyPair":
        if len(private) != KEY_BYTES:
            raise ValueError("an X25519 private key is 32 bytes")
        pub = X25519PrivateKey.from_private_bytes(private).public_key()
        return cls(private=private, public=pub.public_bytes_raw())


def update_aad(task_id: int, round_: int, participant: str) -> bytes:
    """Associated data of an update: task id and round (32-byte big-endian) and the address."""
    address = bytes.fromhex(participant.removeprefix("0x"))
    if len(address) != 20:
        raise ValueError("participant must be a 20-byte address")
    return task_id.to_bytes(32, "big") + round_.to_bytes(32, "big") + address


def _derive_key(shared: bytes, ephemeral_public: bytes, recipient_public: bytes) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES,
                salt=ephemeral_public + recipient_public, info=INFO)
    return hkdf.derive(shared)


def encrypt_update(recipient_public: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """Encrypt ``plaintext`` so that only the holder of ``recipient_public``'s key reads it."""
    if len(recipient_public) != KEY_BYTES:
        raise ValueError("an X25519 public key is 32 bytes")
    ephemeral = X25519PrivateKey.generate()
    ephemeral_public = ephemeral.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(recipient_public))
    key = _derive_key(shared, ephemeral_public, recipient_public)
    nonce = os.urandom(NONCE_BYTES)
    return MAGIC + ephemeral_public + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def decrypt_update(keys: EncryptionKeyPair, envelope: bytes, aad: bytes) -> bytes:
    """Open an envelope made by :func:`encrypt_update`; raise DecryptionError otherwise."""
    head = len(MAGIC) + KEY_BYTES + NONCE_BYTES
    if len(envelope) < head + 16 or not envelope.startswith(MAGIC):
        raise DecryptionError("not a zkpot update envelope")
    ephemeral_public = envelope[len(MAGIC):len(MAGIC) + KEY_BYTES]
    nonce = envelope[len(MAGIC) + KEY_BYTES:head]
    private = X25519PrivateKey.from_private_bytes(keys.private)
    try:
        shared = private.exchange(X25519PublicKey.from_public_bytes(ephemeral_public))
        key = _derive_key(shared, ephemeral_public, keys.public)
        return AESGCM(key).decrypt(nonce, envelope[head:], aad)
    except (InvalidTag, ValueError) as exc:
        raise DecryptionError("the envelope does not open with this key and binding") from exc
