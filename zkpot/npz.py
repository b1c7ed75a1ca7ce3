"""NPZ files read without trusting them: sizes are checked before a byte is inflated.

An NPZ is a zip archive of ``.npy`` members. The zip central directory declares each
member's uncompressed size, and each ``.npy`` header its dtype and shape; both are read and
bounded first (``max_bytes`` over all members, dtype numeric, shape × item size equal to what
the member holds), then the member is inflated straight into an array of exactly that size.
Python's zip reader never returns more than the declared size and checks the CRC at the end,
so an archive that lies about its sizes is refused without inflating more than it declared.
No pickles, no object or structured dtypes.
"""

from __future__ import annotations

import io
import math
import zipfile
import zlib

import numpy as np
from numpy.lib import format as npy

MAX_MEMBERS = 64
MAX_DIMS = 8
MAX_HEADER_BYTES = 10_000
_COMPRESSIONS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)


class NpzError(ValueError):
    """The NPZ file is malformed, or larger than allowed once inflated; the message says which."""


def _members(data: bytes, max_bytes: int) -> tuple[zipfile.ZipFile, dict[str, zipfile.ZipInfo]]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError) as e:
        raise NpzError(f"not a readable NPZ file: {e}") from None
    if len(infos) > MAX_MEMBERS:
        raise NpzError(f"the archive has {len(infos)} members; an NPZ dataset has at most {MAX_MEMBERS}")
    declared = sum(i.file_size for i in infos)
    if declared > max_bytes:
        raise NpzError(f"the archive declares {declared} bytes uncompressed; the limit is {max_bytes} "
                       "bytes (ZKPOT_MAX_DATASET_BYTES)")
    members = {}
    for info in infos:
        name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
        if info.compress_type not in _COMPRESSIONS:
            raise NpzError(f"member {info.filename!r} uses compression {info.compress_type}; "
                           "NPZ members are stored or deflated")
        if info.flag_bits & 0x1:
            raise NpzError(f"member {info.filename!r} is encrypted")
        members[name] = info
    return archive, members


def _header(f, name: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    try:
        version = npy.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = npy.read_array_header_1_0(f, max_header_size=MAX_HEADER_BYTES)
        elif version == (2, 0):
            shape, fortran, dtype = npy.read_array_header_2_0(f, max_header_size=MAX_HEADER_BYTES)
        else:
            raise NpzError(f"member {name!r} is .npy format {version}; versions 1.0 and 2.0 are read")
    except NpzError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:
        raise NpzError(f"member {name!r} is corrupt: {e}") from None
    except (ValueError, TypeError, SyntaxError) as e:
        raise NpzError(f"member {name!r} is not a .npy array: {e}") from None
    if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
        raise NpzError(f"member {name!r} has dtype {dtype}: only plain numeric arrays are read")
    if dtype.kind not in "fiub":
        raise NpzError(f"member {name!r} has dtype {dtype}: only plain numeric arrays are read")
    if len(shape) > MAX_DIMS:
        raise NpzError(f"member {name!r} has {len(shape)} dimensions (at most {MAX_DIMS})")
    if any(type(d) is not int or d < 0 for d in shape):
        raise NpzError(f"member {name!r} declares shape {shape}: dimensions are integers >= 0")
    return tuple(int(d) for d in shape), bool(fortran), dtype


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> np.ndarray:
    try:
        with archive.open(info) as f:
            shape, fortran, dtype = _header(f, name)
            nbytes = math.prod(shape) * dtype.itemsize
            held = info.file_size - f.tell()
            if nbytes != held:
                raise NpzError(f"member {name!r} declares shape {shape} of {dtype} ({nbytes} bytes) "
                               f"but holds {held} bytes")
            out = np.empty(math.prod(shape), dtype=dtype)
            view = memoryview(out).cast("B") if nbytes else memoryview(b"")
            filled = 0
            while filled < nbytes:
                n = f.readinto(view[filled:])
                if not n:
                    raise NpzError(f"member {name!r} ends after {filled} of {nbytes} bytes")
                filled += n
            f.read(1)  # reach the end so the CRC is checked
    except NpzError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as e:
        raise NpzError(f"member {name!r} is corrupt: {e}") from None
    return out.reshape(shape, order="F" if fortran else "C")


def read_arrays(data: bytes, wanted: list[tuple[str, ...]], max_bytes: int) -> dict[str, np.ndarray]:
    """The arrays of the first name group in ``wanted`` (e.g. ``[("x", "y"), ("features",
    "labels")]``) that the archive holds; ``NpzError`` with the reason otherwise."""
    archive, members = _members(data, max_bytes)
    with archive:
        for group in wanted:
            if all(n in members for n in group):
                return {n: _read(archive, members[n], n) for n in group}
    found = sorted(members)
    raise NpzError(f"NPZ must hold arrays {' or '.join('/'.join(g) for g in wanted)}, found {found}")
