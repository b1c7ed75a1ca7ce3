"""Hostile uploads: NPZ files whose sizes lie or explode once inflated (tests and the bench)."""

from __future__ import annotations

import io
import zipfile

import numpy as np


def _npy_header(shape: tuple[int, ...], descr: str = "<f4") -> bytes:
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(out, {"descr": descr, "fortran_order": False, "shape": shape})
    return out.getvalue()


def _labels(n: int = 16) -> bytes:
    out = io.BytesIO()
    np.save(out, np.arange(n) % 3)
    return out.getvalue()


def deflate_bomb(inflated_mib: int = 1024) -> bytes:
    """An NPZ of about 1 MiB whose x.npy inflates to ``inflated_mib`` MiB of zeros (honestly
    declared in the zip central directory, as ``np.savez_compressed`` would write it)."""
    buf = io.BytesIO()
    rows = inflated_mib * 2**20 // 4
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        with z.open("x.npy", "w", force_zip64=True) as f:
            f.write(_npy_header((rows, 1)))
            zeros = bytes(2**20)
            for _ in range(inflated_mib):
                f.write(zeros)
        z.writestr("y.npy", _labels())
    return buf.getvalue()


def lying_bomb(inflated_mib: int = 1024) -> bytes:
    """The same bomb with its sizes rewritten to 1 KiB in both zip headers: a reader that trusts
    the declared size and then inflates without a cap would still allocate it all."""
    data = bytearray(deflate_bomb(inflated_mib))
    import struct

    local = data.find(b"PK\x03\x04")
    central = data.find(b"PK\x01\x02")
    # zip64: the real sizes sit in the extra field; the classic fields say 0xFFFFFFFF
    for offset, field in ((local, 22), (central, 24)):
        struct.pack_into("<I", data, offset + field, 1024)
    return bytes(data)


def huge_shape(elements: int = 10**12) -> bytes:
    """An NPZ of a few hundred bytes whose x.npy header declares ``elements`` float32 values."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("x.npy", _npy_header((elements // 1000, 1000)) + bytes(64))
        z.writestr("y.npy", _labels())
    return buf.getvalue()


def pickled_object_array() -> bytes:
    """An NPZ whose x.npy is an object array (a pickle): never loaded."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("x.npy", _npy_header((4, 2), "|O") + b"\x80\x04N.")
        z.writestr("y.npy", _labels(4))
    return buf.getvalue()


def negative_shape(shape: tuple[int, ...] = (-2, -16)) -> bytes:
    """An NPZ whose x.npy declares negative dimensions with a positive product and holds that
    many bytes: the size check passes, the shape is nonsense."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("x.npy", _npy_header(shape) + bytes(4 * abs(int(np.prod(shape)))))
        z.writestr("y.npy", _labels(2))
    return buf.getvalue()
