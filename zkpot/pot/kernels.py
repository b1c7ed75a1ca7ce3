"""Fused native kernels for a CPU stage's hot loops (``kernels.c``), built once per machine.

The numpy path of ``zkpot.pot.optim``'s SGD step makes about ten passes over a layer's
parameters; the kernel makes one, with the same float64 operations on the same exact integers.
The loss (``fixedpoint.cross_entropy``) is dozens of numpy calls on a small batch; the kernel
runs its integer steps in one. Both give the same bits as numpy (tests compare them over random
inputs and on every preset's golden file). The
kernel is compiled with the machine's C compiler (``cc``, or ``$CC``) the first time a stage
needs it and kept in ``$ZKPOT_KERNEL_DIR`` (default ``~/.cache/zkpot/kernels``), named by the
hash of its source and the compiler flags; ``python -m zkpot.pot.kernels`` builds it ahead of
time (the container image does). Without a compiler the numpy path runs -- the same results,
slower -- and a warning says so once; ``ZKPOT_NATIVE=0`` chooses the numpy path on purpose.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np

from zkpot.pot import fixedpoint as fp

log = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("kernels.c")
# -ffp-contract=off: no fused multiply-add (every operation is exact anyway); -fno-trapping-math
# lets the compiler vectorise the clamps (it changes no value, only what may trap)
FLAGS = ("-O3", "-fPIC", "-shared", "-ffp-contract=off", "-fno-trapping-math")

_lock = threading.Lock()
_loaded: ctypes.CDLL | None = None
_tried = False
_why = ""


def kernel_dir() -> Path:
    return Path(os.environ.get("ZKPOT_KERNEL_DIR") or Path.home() / ".cache" / "zkpot" / "kernels")


def library_path() -> Path:
    """Where this source, these flags and this machine's architecture put the library."""
    tag = hashlib.sha256(SOURCE.read_bytes() + " ".join(FLAGS).encode() + platform.machine().encode())
    return kernel_dir() / f"zkpot-kernels-{tag.hexdigest()[:16]}.so"


def build() -> Path:
    """Compile the kernels (if not already built) and return the library's path; raises
    ``RuntimeError`` with the reason when there is no compiler or it fails."""
    target = library_path()
    if target.exists():
        return target
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        raise RuntimeError("no C compiler (cc or $CC) on this machine")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".so.tmp")
    os.close(fd)
    try:
        done = subprocess.run([cc, *FLAGS, "-o", tmp, str(SOURCE), "-lm"], capture_output=True, text=True,
                              timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{cc} failed: {done.stderr.strip()[-400:]}")
        os.replace(tmp, target)                  # atomic: a concurrent builder finds a whole file
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def _load() -> ctypes.CDLL | None:
    global _loaded, _tried, _why
    with _lock:
        if _tried:
            return _loaded
        _tried = True
        if os.environ.get("ZKPOT_NATIVE", "1") == "0":
            _why = "disabled by ZKPOT_NATIVE=0"
            return None
        try:
            try:
                lib = ctypes.CDLL(str(build()))
            except OSError:                      # a damaged library (a full disk, say): built again
                library_path().unlink(missing_ok=True)
                lib = ctypes.CDLL(str(build()))
        except (OSError, RuntimeError, subprocess.SubprocessError) as e:
            _why = str(e)
            log.warning("zkpot: fused optimiser kernel unavailable (%s); the numpy step runs (same results, "
                        "slower)", _why)
            return None
        P, I, D = ctypes.c_void_p, ctypes.c_int64, ctypes.c_double
        lib.zkpot_sgd.restype = D
        lib.zkpot_sgd.argtypes = [P, P, P, I, D, D, D, D, ctypes.c_int]
        lib.zkpot_cross_entropy.restype = None
        lib.zkpot_cross_entropy.argtypes = [P, I, P, I, I, P, P, P, I, P, P, I, P]
        _loaded = lib
        return lib


def sgd():
    """The fused SGD kernel (``zkpot_sgd`` of kernels.c), or None where it is unavailable."""
    lib = _load()
    return lib.zkpot_sgd if lib is not None else None


def cross_entropy(z: np.ndarray, y: np.ndarray, grad: np.ndarray) -> np.ndarray | None:
    """``fixedpoint.cross_entropy`` by the kernel: z (float64 logits, rows contiguous), y (int64
    labels, in range), the gradient written into ``grad`` (float64, z's shape, rows contiguous);
    returns the losses, or None where the kernel is unavailable or the operands are laid out
    otherwise (the caller runs numpy's: the same values)."""
    lib = _load()
    if lib is None or z.ndim != 2:
        return None
    b, c = z.shape
    if not (z.dtype == grad.dtype == np.float64 and grad.shape == z.shape and z.strides[1] == 8
            and grad.strides[1] == 8 and y.dtype == np.int64 and y.flags.c_contiguous and y.shape == (b,)):
        return None
    if b == 0 or c == 0 or y.min() < 0 or y.max() >= c:         # the C code indexes z's rows by label
        raise ValueError(f"labels must lie in 0..{c - 1} for {c} logits")
    exp_hi, exp_lo, ln1p, ln2 = fp.tables()
    losses = np.empty(b, dtype=np.int64)
    scratch = np.empty(c, dtype=np.int64)
    lib.zkpot_cross_entropy(z.ctypes.data, z.strides[0] // 8, y.ctypes.data, b, c, exp_hi.ctypes.data,
                            exp_lo.ctypes.data, ln1p.ctypes.data, ln2, losses.ctypes.data, grad.ctypes.data,
                            grad.strides[0] // 8, scratch.ctypes.data)
    return losses


def status() -> str:
    """One line: which optimiser step a CPU stage runs, and why."""
    lib = _load()
    return f"fused native kernel ({library_path()})" if lib is not None else f"numpy ({_why})"


if __name__ == "__main__":          # python -m zkpot.pot.kernels: build ahead of time
    try:
        print(build())
    except RuntimeError as e:
        sys.exit(f"zkpot kernels: {e}")
