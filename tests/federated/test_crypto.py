import pytest

from zkpot.federated.crypto import (DecryptionError, EncryptionKeyPair, decrypt_update,
                                    encrypt_update, update_aad)

ALICE = "0x" + "aa" * 20
BOB = "0x" + "bb" * 20


def test_round_trip_with_the_employer_key():
    keys = EncryptionKeyPair.generate()
    aad = update_aad(1, 0, ALICE)
    envelope = encrypt_update(keys.public, b"weights" * 100, aad)
    assert decrypt_update(keys, envelope, aad) == b"weights" * 100


def test_envelope_hides_the_plaintext_and_is_fresh_each_time():
    keys = EncryptionKeyPair.generate()
    aad = update_aad(1, 0, ALICE)
    plaintext = b"secret-update-bytes" * 10
    first, second = (encrypt_update(keys.public, plaintext, aad) for _ in range(2))
    assert b"secret-update-bytes" not in first
    assert first != second  # fresh ephemeral key and nonce


def test_another_key_cannot_decrypt():
    keys, other = EncryptionKeyPair.generate(), EncryptionKeyPair.generate()
    aad = update_aad(1, 0, ALICE)
    envelope = encrypt_update(keys.public, b"w", aad)
    with pytest.raises(DecryptionError):
        decrypt_update(other, envelope, aad)


@pytest.mark.parametrize("task,round_,who", [(2, 0, ALICE), (1, 1, ALICE), (1, 0, BOB)])
def test_envelope_copied_to_another_binding_does_not_open(task, round_, who):
    keys = EncryptionKeyPair.generate()
    envelope = encrypt_update(keys.public, b"w", update_aad(1, 0, ALICE))
    with pytest.raises(DecryptionError):
        decrypt_update(keys, envelope, update_aad(task, round_, who))


def test_tampered_envelope_is_rejected():
    keys = EncryptionKeyPair.generate()
    aad = update_aad(1, 0, ALICE)
    envelope = bytearray(encrypt_update(keys.public, b"weights", aad))
    envelope[-1] ^= 1
    with pytest.raises(DecryptionError):
        decrypt_update(keys, bytes(envelope), aad)
    with pytest.raises(DecryptionError):
        decrypt_update(keys, b"garbage", aad)


def test_key_pair_from_private_is_stable():
    keys = EncryptionKeyPair.generate()
    assert EncryptionKeyPair.from_private(keys.private) == keys
    assert len(keys.public) == 32
