import struct

import pytest
import torch

from zkpot.federated.updates import MAGIC, UpdateFormatError, decode_state, encode_state


def state():
    gen = torch.Generator().manual_seed(0)
    return {"0.weight": torch.randn(4, 3, generator=gen), "0.bias": torch.randn(4, generator=gen),
            "2.weight": torch.randn(2, 4, generator=gen)}


def test_round_trip_keeps_names_order_and_values():
    original = state()
    decoded = decode_state(encode_state(original))
    assert list(decoded) == list(original)
    for key in original:
        assert torch.equal(decoded[key], original[key])


def test_encoding_is_deterministic():
    assert encode_state(state()) == encode_state(state())


@pytest.mark.parametrize("mutate", [
    lambda b: b"XXXXXX" + b[6:],          # wrong magic
    lambda b: b[:-1],                      # truncated tensor
    lambda b: b + b"\0",                   # trailing bytes
    lambda b: b[:6] + b"\xff\xff\xff\x7f" + b[10:],  # header length out of range
])
def test_malformed_bytes_are_rejected(mutate):
    with pytest.raises(UpdateFormatError):
        decode_state(mutate(encode_state(state())))


def _with_header(head: bytes, body: bytes = b"") -> bytes:
    return MAGIC + struct.pack("<I", len(head)) + head + body


@pytest.mark.parametrize("head", [
    b"null", b"[1]", b'{"a":1}', b'[{"name":"w","shape":[1],"bytes":Infinity}]',
    b'[{"name":"w","shape":[1e400],"bytes":4}]', b'[{"name":"w","shape":[1180591620717411303424],"bytes":4}]',
    b'[{"name":"w","shape":[-1],"bytes":-4}]', b'[{"name":"w","shape":[true],"bytes":4}]',
    b'[{"name":7,"shape":[1],"bytes":4}]', b'[{"name":"w","shape":[1],"bytes":4},{"name":"w","shape":[1],"bytes":4}]',
    b"[" * 100_000,
])
def test_a_hostile_header_is_an_update_format_error(head):
    # found by an attack: these raised TypeError, OverflowError or RecursionError, which the
    # employer did not catch, so its close_round failed on every call and the task was stuck
    with pytest.raises(UpdateFormatError):
        decode_state(_with_header(head, bytes(8)))

