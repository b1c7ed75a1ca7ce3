"""Accuracy circuits, made once per (architecture, shard size N, settings version) and cached.

A circuit folder under ``settings.circuits_dir`` holds the ONNX template, ezkl settings, the
compiled circuit, the verifying and proving keys, the EVM verifying-key artifact and
``circuit.json`` (what it is, plus each file's sha256). ``ensure_circuit`` returns the cached
circuit when one matches and runs setup only otherwise, under a file lock, building into a
scratch folder that is renamed into place when complete. Proving keys are used in place.

The keys are bound to the SRS they were set up with: ``circuit.json`` records its sha256 and
logrows, and ``check_srs`` refuses any other SRS (``SrsMismatch``) when the circuit is loaded
and before it proves, commits or renders a verifier, since proofs made with another SRS are
rejected on chain without saying why.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import ezkl
import numpy as np
from torch import nn

from zkpot.config import Settings
from zkpot.zk import _ezkl
from zkpot.zk.statement import architecture_hash, export_statement, onehot

# bump when the statement, visibilities or anything else that changes the keys changes
# (2: circuit.json records the SRS the keys were set up with; older caches are set up again;
#  3: the statement takes the largest logit as a ReLU chain instead of a shuffle-proven max;
#  4: weights bound by a KZG commitment instead of a Poseidon hash, matmuls without Freivalds,
#     one inner column, no range checks on the committed inputs and the public count)
SETTINGS_VERSION = 4
MANIFEST = "circuit.json"


class SrsMismatch(RuntimeError):
    """The SRS offered is not the one the cached circuit's keys were set up with."""


class CircuitTooLarge(ValueError):
    """The statement over shards of this size needs more rows than ``settings.max_logrows``."""

    def __init__(self, n: int, rows: int, logrows: int, max_logrows: int):
        self.n, self.rows, self.logrows, self.max_logrows = n, rows, logrows, max_logrows
        # rows grow about linearly with the shard size; keep a tenth of the rows spare
        self.fitting_n = n * (9 * 2 ** max_logrows // 10) // rows
        hint = (f"use shards of at most {self.fitting_n} samples" if self.fitting_n >= 1
                else "even one sample per shard does not fit: use a smaller model")
        super().__init__(
            f"the accuracy circuit of this model over shards of {n} samples needs {rows:,} rows "
            f"(2^{logrows}); this deployment sets up circuits of at most 2^{max_logrows} rows "
            f"(ZKPOT_MAX_LOGROWS): {hint}")


@dataclass(frozen=True)
class CircuitParams:
    """Quantisation and layout of the statement (see docs/zk.md for why these values)."""

    scale: int = 7               # input and param fixed-point scale (2^scale)
    decomp_base: int = 256       # range checks decompose values in this base …
    decomp_legs: int = 4         # … into this many legs (range ±base^legs / 2)
    num_inner_cols: int = 1      # every extra column costs ~150k gas per on-chain check


@dataclass
class Circuit:
    """A ready circuit: paths to its artifacts and the classifier architecture it proves."""

    key: str
    dir: Path
    model: nn.Module
    input_shape: tuple[int, ...]
    num_classes: int
    n: int
    params: CircuitParams
    logrows: int
    srs_path: Path
    created: bool = False        # True only when this call ran setup
    info: dict = field(default_factory=dict)

    @property
    def settings_path(self) -> Path:
        return self.dir / "settings.json"

    @property
    def vk_path(self) -> Path:
        return self.dir / "vk.key"

    @property
    def pk_path(self) -> Path:
        return self.dir / "pk.key"

    @property
    def vka_path(self) -> Path:
        return self.dir / "vka.bytes"

    @property
    def input_type(self) -> str:
        return json.loads(self.settings_path.read_text()).get("input_types", ["F32"])[0]

    def vka_words(self) -> list[bytes]:
        """The EVM verifying-key artifact as the bytes32 words the reusable verifier takes."""
        raw = self.vka_path.read_bytes()
        count = int.from_bytes(raw[:8], "little")
        words = [raw[8 + 32 * i: 40 + 32 * i] for i in range(count)]
        if len(raw) != 8 + 32 * count:
            raise ValueError(f"unexpected VK artifact layout in {self.vka_path}")
        return words


def circuit_key(arch_hash: str, n: int, params: CircuitParams) -> str:
    ident = json.dumps({"arch": arch_hash, "n": n, "v": SETTINGS_VERSION, "params": asdict(params),
                        "ezkl": ezkl.__version__}, sort_keys=True)
    return hashlib.sha256(ident.encode()).hexdigest()[:20]


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


@lru_cache(maxsize=16)
def _sha256_of(path: str, size: int, mtime_ns: int) -> str:
    return file_sha256(Path(path))


def srs_sha256(path: Path) -> str:
    """sha256 of an SRS file, hashed once per process while the file is unchanged."""
    path = Path(path).resolve()
    stat = path.stat()
    return _sha256_of(str(path), stat.st_size, stat.st_mtime_ns)


def srs_logrows(path: Path) -> int:
    """The logrows an SRS file holds (halo2 writes k as a little-endian u32 first)."""
    with open(path, "rb") as fh:
        return int.from_bytes(fh.read(4), "little")


def check_srs(circuit: "Circuit") -> None:
    """Raise ``SrsMismatch`` unless ``circuit.srs_path`` is the SRS the circuit was set up with."""
    recorded = circuit.info.get("srs") or {}
    actual = srs_sha256(circuit.srs_path)
    if actual != recorded.get("sha256"):
        raise SrsMismatch(
            f"circuit {circuit.key} was set up with the SRS of sha256 {recorded.get('sha256')} "
            f"(logrows {recorded.get('logrows')}), but {circuit.srs_path} has sha256 {actual} "
            f"(logrows {srs_logrows(circuit.srs_path)}); its keys only work with the original: "
            f"point ZKPOT_SRS_PATH at the original SRS file, or delete {circuit.dir} to set "
            f"the circuit up again with this SRS")


@contextmanager
def _locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def srs_for(settings: Settings, logrows: int) -> Path:
    """The SRS: a ceremony file when configured, else a local single-party one (dev only)."""
    if settings.srs_path is not None:
        if not Path(settings.srs_path).exists():
            raise FileNotFoundError(f"ZKPOT_SRS_PATH {settings.srs_path} does not exist")
        return Path(settings.srs_path)
    path = settings.circuits_dir / "srs" / f"kzg{logrows}.srs"
    with _locked(path.with_suffix(".lock")):
        if not path.exists():
            partial = path.with_suffix(f".partial{os.getpid()}")
            ezkl.gen_srs(str(partial), logrows)
            partial.rename(path)
    return path


def ensure_circuit(model: nn.Module, input_shape: tuple[int, ...], num_classes: int, n: int,
                   settings: Settings, params: CircuitParams | None = None,
                   calibration: tuple[np.ndarray, np.ndarray] | None = None) -> Circuit:
    """The circuit proving "``model``'s architecture gets k of n samples right", cached.

    Setup runs only when no circuit with the same key exists; the weights of ``model`` do not
    matter (params are committed in the proof, so one proving key serves every model of the
    architecture).
    ``calibration`` (X, y) shapes the lookup ranges; random inputs are used when absent.
    """
    params = params or CircuitParams()
    input_shape = tuple(int(d) for d in input_shape)
    root = settings.circuits_dir
    probe = root / "tmp" / f"probe-{os.getpid()}.onnx"
    probe.parent.mkdir(parents=True, exist_ok=True)
    export_statement(model, input_shape, num_classes, n, probe)
    key = circuit_key(architecture_hash(probe), n, params)
    probe.unlink()
    final = root / key
    with _locked(root / f"{key}.lock"):
        created = False
        if not (final / MANIFEST).exists():
            _setup(model, input_shape, num_classes, n, params, settings, final, calibration)
            created = True
    info = json.loads((final / MANIFEST).read_text())
    circuit = Circuit(key=key, dir=final, model=model, input_shape=input_shape,
                      num_classes=num_classes, n=n, params=params, logrows=info["logrows"],
                      srs_path=srs_for(settings, info["logrows"]), created=created, info=info)
    for name, meta in info["files"].items():  # cheap integrity check; full hashes on demand
        if (final / name).stat().st_size != meta["bytes"]:
            raise RuntimeError(f"circuit {key}: {name} changed on disk")
    check_srs(circuit)
    return circuit


def verify_files(circuit: Circuit) -> bool:
    """Recompute every artifact's sha256 (slow for gigabyte proving keys)."""
    return all(file_sha256(circuit.dir / name) == meta["sha256"]
               for name, meta in circuit.info["files"].items())


def _setup(model, input_shape, num_classes, n, params, settings, final: Path, calibration) -> None:
    started = time.monotonic()
    work = final.with_name(f"{final.name}.partial{os.getpid()}")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    onnx_path = export_statement(model, input_shape, num_classes, n, work / "statement.onnx")
    if calibration is None:
        rng = np.random.default_rng(0)
        X = rng.random((n, *input_shape), dtype=np.float32)
        y = rng.integers(0, num_classes, n)
    else:
        X, y = calibration
        X, y = np.asarray(X, dtype=np.float32)[:n], np.asarray(y)[:n]
    data = work / "calibration.json"
    data.write_text(json.dumps({"input_data": [X.reshape(-1).tolist(),
                                               onehot(y, num_classes).reshape(-1).tolist()]}))

    run_args = ezkl.PyRunArgs()
    run_args.input_visibility = "polycommit"   # the test set: KZG commitments open the proof
    run_args.param_visibility = "polycommit"   # the weights: their KZG commitment follows T's
    run_args.output_visibility = "public"      # the count, the one public instance
    # matmuls proven row by row: Freivalds' check needs a second phase whose columns cost more
    # proof bytes and verifier gas than its rows save (docs/zk.md)
    run_args.disable_freivalds = True
    # no range checks on the graph's inputs (the committed test set, quantised by zkpot on both
    # sides and recomputed into c_T by every checker) nor on its output (the public count): they
    # took 71k of 193k rows; every intermediate value stays range-checked
    run_args.ignore_range_check_inputs_outputs = True
    run_args.input_scale = params.scale
    run_args.param_scale = params.scale
    run_args.decomp_base = params.decomp_base
    run_args.decomp_legs = params.decomp_legs
    run_args.num_inner_cols = params.num_inner_cols
    settings_path = work / "settings.json"
    compiled = work / "statement.compiled"
    _check(ezkl.gen_settings(str(onnx_path), str(settings_path), py_run_args=run_args), "gen_settings")
    _check(ezkl.calibrate_settings(str(data), str(onnx_path), str(settings_path), "resources",
                                   scales=[params.scale]), "calibrate_settings")
    calibrated = json.loads(settings_path.read_text())
    if calibrated["run_args"]["logrows"] > settings.max_logrows:
        shutil.rmtree(work, ignore_errors=True)
        raise CircuitTooLarge(n, calibrated["num_rows"], calibrated["run_args"]["logrows"],
                              settings.max_logrows)
    _check(ezkl.compile_circuit(str(onnx_path), str(compiled), str(settings_path)), "compile_circuit")
    logrows = calibrated["run_args"]["logrows"]
    srs = srs_for(settings, logrows)
    _check(ezkl.setup(str(compiled), str(work / "vk.key"), str(work / "pk.key"), srs_path=str(srs)),
           "setup")
    _check(_ezkl.call(ezkl.create_evm_vka, str(work / "vk.key"), str(settings_path),
                      str(work / "vka.bytes"), srs_path=str(srs)), "create_evm_vka")
    _check_layout(work, compiled, data, srs)
    files = {p.name: {"sha256": file_sha256(p), "bytes": p.stat().st_size}
             for p in sorted(work.iterdir()) if p.is_file()}
    manifest = {"key": final.name, "n": n, "input_shape": list(input_shape),
                "num_classes": num_classes, "params": asdict(params), "logrows": logrows,
                "settings_version": SETTINGS_VERSION, "ezkl_version": ezkl.__version__,
                "srs": {"sha256": srs_sha256(srs), "logrows": srs_logrows(srs)},
                "setup_s": round(time.monotonic() - started, 2), "files": files}
    (work / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
    shutil.rmtree(final, ignore_errors=True)
    work.rename(final)


def _check_layout(work: Path, compiled: Path, data: Path, srs: Path) -> None:
    """Each input tensor and the weights must each be one commitment (one G1 point) that opens
    the proof, the layout the prover and ``EzklAccuracyVerifier`` read (docs/zk.md)."""
    witness = work / "layout-witness.json"
    ezkl.gen_witness(str(data), str(compiled), str(witness), vk_path=str(work / "vk.key"),
                     srs_path=str(srs))
    processed = json.loads(witness.read_text())
    witness.unlink()
    layout = ([len(c) for c in processed["processed_inputs"]["polycommit"]],
              [len(c) for c in processed["processed_params"]["polycommit"]])
    if layout != ([1, 1], [1]):
        raise RuntimeError(f"commitments of (inputs, weights) {layout}, expected ([1, 1], [1]): "
                           f"a tensor outgrew one column of 2^logrows; use a smaller shard size")


def _check(ok, what: str) -> None:
    if ok is False:
        raise RuntimeError(f"ezkl {what} failed")


__all__ = ["Circuit", "CircuitParams", "CircuitTooLarge", "ensure_circuit", "verify_files",
           "srs_for", "check_srs", "SrsMismatch", "SETTINGS_VERSION"]
