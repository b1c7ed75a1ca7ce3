import pytest
import torch

from zkpot.federated.updates import UpdateFormatError, decode_state, encode_state


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
