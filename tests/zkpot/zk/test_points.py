"""Compressed G1 points (as ezkl's witness writes commitments) decoded to a proof's 64 bytes."""

from __future__ import annotations

import pytest

from zkpot.zk._ezkl import BN254_P, g1_bytes_from_compressed

# the generator (1, 2) and its negation (1, p − 2): x = 1, y even and odd
ONE_LE = (1).to_bytes(32, "little")


def _compressed(x_le: bytes, *, odd: bool = False, infinity: bool = False) -> str:
    raw = bytearray(x_le)
    raw[31] |= (0x80 if odd else 0) | (0x40 if infinity else 0)
    return raw.hex()


def test_parity_bit_picks_y():
    assert g1_bytes_from_compressed(_compressed(ONE_LE)) == (1).to_bytes(32, "big") + (2).to_bytes(32, "big")
    assert g1_bytes_from_compressed("0x" + _compressed(ONE_LE, odd=True)) == \
        (1).to_bytes(32, "big") + (BN254_P - 2).to_bytes(32, "big")


@pytest.mark.parametrize("bad", [
    _compressed(ONE_LE, infinity=True),                       # the point at infinity
    _compressed((BN254_P).to_bytes(32, "little")),            # x outside the field
    _compressed((0).to_bytes(32, "little")),                  # 3 is not a square mod p: off the curve
    ONE_LE.hex()[:-2],                                        # 31 bytes
])
def test_non_commitments_are_refused(bad):
    with pytest.raises(ValueError):
        g1_bytes_from_compressed(bad)
