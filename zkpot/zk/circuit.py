"""Accuracy circuits, made once per (architecture, shard size N, params) and cached.

A circuit folder under ``settings.circuits_dir`` holds the ONNX template, ezkl settings, the
compiled circuit, the verifying and proving keys, the EVM verifying-key artifact and
``circuit.json`` (the statement it proves, the SRS, each file's sha256). ``ensure_circuit``
returns the cached circuit when one matches and runs setup only otherwise, under a file lock,
building into a scratch folder renamed into place when complete. Proving keys are used in place.
``spec_circuit`` finds a spec's cached circuit without torch (``aliases/``), so a process that
only proves never loads it (a proof compiles the setup's ONNX with other weights, ``zkpot.zk.graph``).

Setup checks, on its calibration witness, that ezkl evaluates the certified model
(``zkpot.certified``) and nothing else: the count equals the reference count, the params'
commitment is the certified weights' (so the graph holds no constant a prover could choose),
the inputs' commitments are zkpot's, each one G1 point. A circuit that fails is not cached.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field, fields, replace
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Union

import ezkl
import numpy as np

from zkpot import certified as cm
from zkpot.config import Settings
from zkpot.hashing import canonical_json, keccak
from zkpot.zk import _ezkl
from zkpot.zk.srs import (CEREMONY, LOCAL, SrsMismatch, check_srs, file_sha256, locked,
                          require_srs_for_chain, srs_for, srs_logrows, srs_sha256)
from zkpot.zk.graph import architecture_hash, param_names

if TYPE_CHECKING:
    from torch import nn

    from zkpot.pot.state import TrainingState
    from zkpot.spec import ModelSpec

# what a certified model is made from: float weights, a PoT state (or its bytes), or itself
Weights = Union[Mapping[str, object], "TrainingState", bytes, cm.CertifiedModel]

# bump when the statement, visibilities or anything else that changes the keys changes
# (2: circuit.json records the SRS; 3: the largest logit as a ReLU chain; 4: weights bound by
#  a KZG commitment, matmuls without Freivalds, one inner column, no input range checks;
#  5: the strict statement (margin, one-hot rows checked), no rescaling, label rows an int input)
SETTINGS_VERSION = 5
MANIFEST = "circuit.json"
ALIASES = "aliases"             # spec -> circuit key and layer plan (``spec_circuit``)


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
    """Quantisation, layout and statement of a circuit (docs/zk.md says why these values)."""

    scale: int = 7               # inputs and weights in steps of 2^-scale
    decomp_base: int = 2 ** 16   # range checks decompose values in this base … (its table
    decomp_legs: int = 2         # … needs 2^17 rows) into this many legs (|v| < base^legs)
    num_inner_cols: int = 1      # every extra column costs proof bytes and verifier gas
    freivalds: bool = True       # matmuls checked by Freivalds' random product (a second phase)
    margin_steps: int = 1        # δ: the true logit beats every other by >= δ logit steps

    @property
    def range_limit(self) -> int:
        return self.decomp_base ** self.decomp_legs - 1

    @classmethod
    def from_dict(cls, raw: Mapping) -> "CircuitParams":
        """Params from a document another party wrote (a federated task's manifest), within
        the bounds this deployment sets up: nothing unknown, a range table of at most 2^16 rows
        a leg, |v| < 2^32 (the certified integers stay far inside int64), at most 8 inner
        columns, a margin and scale a statement can hold."""
        if not isinstance(raw, Mapping):
            raise ValueError("circuit params: not an object")
        unknown = set(raw) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"circuit params: unknown fields {sorted(unknown)}")
        p = cls(**raw)
        ints = (p.scale, p.decomp_base, p.decomp_legs, p.num_inner_cols, p.margin_steps)
        if not all(type(v) is int for v in ints) or type(p.freivalds) is not bool:
            raise ValueError("circuit params: integer fields and a boolean freivalds")
        base_bits = p.decomp_base.bit_length() - 1
        if not (1 <= p.scale <= 16 and p.decomp_base == 1 << base_bits and 1 <= base_bits <= 16
                and 1 <= p.decomp_legs and base_bits * p.decomp_legs <= 32
                and 1 <= p.num_inner_cols <= 8 and 1 <= p.margin_steps <= 1 << 16):
            raise ValueError(f"circuit params out of bounds: {asdict(p)}")
        return p


@dataclass
class Circuit:
    """A ready circuit: paths to its artifacts and the classifier architecture it proves
    (``plan``, the certified model's layers; the torch module only when asked for)."""

    key: str
    dir: Path
    plan: tuple[cm.Layer, ...]
    input_shape: tuple[int, ...]
    num_classes: int
    n: int
    params: CircuitParams
    logrows: int
    srs_path: Path
    created: bool = False        # True only when this call ran setup
    info: dict = field(default_factory=dict)
    spec: "ModelSpec | None" = field(default=None, repr=False)
    module: "nn.Module | None" = field(default=None, repr=False)

    @property
    def model(self) -> "nn.Module":
        """The classifier as a torch module (built from the spec when the circuit was found
        without one: loads torch)."""
        if self.module is None:
            if self.spec is None:
                raise RuntimeError(f"circuit {self.key} was opened without a model or spec")
            from zkpot.spec import build_model

            self.module = build_model(self.spec)
        return self.module

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
    def margin_steps(self) -> int:
        return self.params.margin_steps

    @property
    def statement(self) -> dict:
        """What the circuit proves, as recorded at setup (architecture hash, N, δ, scales …)."""
        return self.info["statement"]

    @property
    def statement_hash(self) -> bytes:
        """keccak256 of the canonical JSON of ``statement``: the identity a verifier records."""
        return keccak(canonical_json(self.statement))

    @property
    def srs_origin(self) -> str:
        return self.info["srs"]["origin"]

    def certify(self, weights: Weights) -> cm.CertifiedModel:
        """The certified model of ``weights``: a ``CertifiedModel``, a float state dict, or a PoT
        state (``TrainingState`` or its bytes, mapped exactly from its Q20 integers)."""
        from zkpot.pot.state import TrainingState

        scale, limit = self.params.scale, self.params.range_limit
        if isinstance(weights, cm.CertifiedModel):
            if weights.plan != self.plan or weights.input_scale != scale \
                    or weights.param_scale != scale:
                raise cm.CertificationError("certified for another architecture or scale")
            return weights
        if isinstance(weights, (TrainingState, bytes, bytearray)):
            return cm.certify_fixed_point(self.plan, weights, scale, scale, limit)
        return cm.certify_state_dict(self.plan, weights, scale, scale, limit)

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


# a statement whose products take at most this many multiply-adds is proven without
# Freivalds' check: constrained in full, its products add at most 2^16 rows (half of the 2^17
# the range table takes anyway), while the verifier skips the second phase (measured on the
# federated bench's 64-8-10 MLP over N=32: 36,513 rows instead of 17,569, both 2^17; 480k gas
# a proof instead of 678k; 15 s to prove instead of 29 s). Both are sound; larger products
# keep Freivalds' check.
LEAN_PRODUCT_MACS = 2 ** 16


def product_macs(model: "nn.Module", input_shape: tuple[int, ...]) -> int:
    """Multiply-adds of one sample's Linear and Conv2d products through ``model``."""
    import torch
    from torch import nn

    total = 0

    def count(module, _inputs, output):
        nonlocal total
        if isinstance(module, nn.Linear):
            total += module.in_features * module.out_features
        elif isinstance(module, nn.Conv2d):
            kernel = module.kernel_size[0] * module.kernel_size[1]
            total += output[0].numel() * module.in_channels * kernel

    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    try:
        with torch.no_grad():
            model(torch.zeros((1, *input_shape)))
    finally:
        for h in hooks:
            h.remove()
    return total


def lean_params(model: "nn.Module", input_shape: tuple[int, ...], n: int,
                base: CircuitParams | None = None) -> CircuitParams:
    """``base`` (the defaults) with Freivalds' check off when the statement over ``n`` samples
    takes at most ``LEAN_PRODUCT_MACS`` multiply-adds: the cheapest verifier for small circuits."""
    base = base or CircuitParams()
    return replace(base, freivalds=n * product_macs(model, input_shape) > LEAN_PRODUCT_MACS)


def logit_scale_of(model: "nn.Module", params: CircuitParams) -> int:
    return cm.param_scales(cm.layer_plan(model), params.scale, params.scale)[1]


def ensure_circuit(model: "nn.Module", input_shape: tuple[int, ...], num_classes: int, n: int,
                   settings: Settings, params: CircuitParams | None = None,
                   calibration: tuple[np.ndarray, np.ndarray] | None = None, *,
                   chain_id: int | None = None) -> Circuit:
    """The circuit proving "the certified ``model`` gets k of n samples right", cached.

    Setup runs only when no circuit with the same key exists; the weights of ``model`` do not
    matter (params are committed in the proof, so one proving key serves every model of the
    architecture). ``calibration`` (X, y) shapes the lookup ranges; random inputs otherwise.
    ``chain_id`` (default ``settings.chain_id``) is the chain the circuit serves: a local SRS
    is refused unless it is a development chain (``zkpot.zk.srs``).
    """
    from zkpot.zk.statement import export_statement

    params = params or CircuitParams()
    chain = chain_id if chain_id is not None else settings.chain_id
    if settings.srs_path is None:            # before any work: a local SRS for this chain?
        require_srs_for_chain(LOCAL, chain, "a circuit")
    input_shape = tuple(int(d) for d in input_shape)
    logit_scale = logit_scale_of(model, params)
    root = settings.circuits_dir
    probe = root / "tmp" / f"probe-{os.getpid()}.onnx"
    probe.parent.mkdir(parents=True, exist_ok=True)
    export_statement(model, input_shape, num_classes, n, probe, logit_scale=logit_scale,
                     margin_steps=params.margin_steps)
    arch = architecture_hash(probe)
    probe.unlink()
    key = circuit_key(arch, n, params)
    final = root / key
    with locked(root / f"{key}.lock"):
        created = False
        if not (final / MANIFEST).exists():
            _setup(model, input_shape, num_classes, n, params, settings, final, calibration,
                   arch, chain)
            created = True
    return _open(final, cm.layer_plan(model), input_shape, num_classes, n, params, settings,
                 chain, created=created, module=model)


def spec_circuit(spec: "ModelSpec", input_shape: tuple[int, ...], num_classes: int, n: int,
                 settings: Settings, params: CircuitParams | None = None,
                 calibration: tuple[np.ndarray, np.ndarray] | None = None, *,
                 chain_id: int | None = None) -> Circuit:
    """``ensure_circuit(build_model(spec), …)``, without torch once the circuit is cached.

    The first call exports the statement (torch) to find or set up the circuit, and records the
    circuit's key and layer plan under ``aliases/`` by a hash of everything else the key
    depends on (the spec, shapes, N, params, the settings version, ezkl's version); later calls
    open the circuit from that record, so a process that only proves never loads torch. A
    changed spec misses the record and goes the torch way again."""
    params = params or CircuitParams()
    chain = chain_id if chain_id is not None else settings.chain_id
    input_shape = tuple(int(d) for d in input_shape)
    alias = alias_path(settings, spec, input_shape, num_classes, n, params)
    final, plan, info = _recorded(alias, settings.circuits_dir, input_shape, num_classes, n, params)
    if final is not None:
        if settings.srs_path is None:
            require_srs_for_chain(LOCAL, chain, "a circuit")
        return _open(final, plan, input_shape, num_classes, n, params, settings, chain, spec=spec,
                     info=info)
    from zkpot.spec import build_model

    circuit = ensure_circuit(build_model(spec), input_shape, num_classes, n, settings, params,
                             calibration, chain_id=chain)
    circuit.spec = spec
    alias.parent.mkdir(parents=True, exist_ok=True)
    partial = alias.with_name(f"{alias.name}.partial{os.getpid()}")
    partial.write_text(json.dumps({"key": circuit.key, "plan": [asdict(layer) for layer in circuit.plan]}))
    partial.replace(alias)
    return circuit


def alias_path(settings: Settings, spec: "ModelSpec", input_shape: tuple[int, ...],
               num_classes: int, n: int, params: CircuitParams) -> Path:
    """Where ``spec_circuit`` records the circuit of (spec, shapes, N, params)."""
    ident = json.dumps({"spec": spec.to_dict(), "input_shape": [int(d) for d in input_shape],
                        "num_classes": num_classes, "n": n, "params": asdict(params),
                        "v": SETTINGS_VERSION, "ezkl": ezkl.__version__}, sort_keys=True)
    return settings.circuits_dir / ALIASES / f"{hashlib.sha256(ident.encode()).hexdigest()[:24]}.json"


def _recorded(alias: Path, root: Path, input_shape, num_classes: int, n: int,
              params: CircuitParams) -> tuple[Path | None, tuple, dict]:
    """The circuit folder, layer plan and manifest an alias records, when the record is readable
    and the circuit it names was set up for these shapes, N and params, with the plan's
    parameters; (None, (), {}) otherwise (not recorded yet, stale or edited: the torch way)."""
    try:
        known = json.loads(alias.read_text())
        final = root / str(known["key"])
        plan = tuple(cm.Layer(**layer) for layer in known["plan"])
        info = json.loads((final / MANIFEST).read_text())
        names, _ = cm.param_scales(plan, params.scale, params.scale)
        fits = (info["n"], tuple(info["input_shape"]), info["num_classes"], info["params"],
                sorted(info["param_order"])) == (n, input_shape, num_classes, asdict(params),
                                                 sorted(names))
    except (OSError, ValueError, KeyError, TypeError):
        return None, (), {}
    return (final, plan, info) if fits and final.parent == root else (None, (), {})


def _open(final: Path, plan, input_shape, num_classes: int, n: int, params: CircuitParams,
          settings: Settings, chain: int | None, *, created: bool = False, module=None,
          spec=None, info: dict | None = None) -> Circuit:
    """The set-up circuit in ``final`` (``info``: its manifest, when already read), checked
    against this deployment's SRS rules."""
    key = final.name
    info = info or json.loads((final / MANIFEST).read_text())
    require_srs_for_chain(info["srs"]["origin"], chain, "a circuit")
    if info["srs"]["origin"] == CEREMONY and settings.srs_path is None:
        raise SrsMismatch(f"circuit {key} was set up with a ceremony SRS (sha256 "
                          f"{info['srs']['sha256']}): set ZKPOT_SRS_PATH to that file")
    srs_path, _ = srs_for(settings, info["logrows"], chain)
    circuit = Circuit(key=key, dir=final, plan=tuple(plan), input_shape=tuple(input_shape),
                      num_classes=num_classes, n=n, params=params, logrows=info["logrows"],
                      srs_path=srs_path, created=created, info=info, spec=spec, module=module)
    for name, meta in info["files"].items():  # cheap integrity check; full hashes on demand
        if (final / name).stat().st_size != meta["bytes"]:
            raise RuntimeError(f"circuit {key}: {name} changed on disk")
    check_srs(circuit)
    return circuit


def verify_files(circuit: Circuit) -> bool:
    """Recompute every artifact's sha256 (slow for gigabyte proving keys)."""
    return all(file_sha256(circuit.dir / name) == meta["sha256"]
               for name, meta in circuit.info["files"].items())


def _run_args(params: CircuitParams, rebase: int) -> "ezkl.PyRunArgs":
    run_args = ezkl.PyRunArgs()
    run_args.input_visibility = "polycommit"   # the test set: KZG commitments open the proof
    run_args.param_visibility = "polycommit"   # the weights: their KZG commitment follows T's
    run_args.output_visibility = "public"      # the count, the one public instance
    run_args.disable_freivalds = not params.freivalds
    # no range checks on the graph's inputs (the committed test set, recomputed into c_T by
    # every checker) nor on its output (the public count); intermediate values stay checked
    run_args.ignore_range_check_inputs_outputs = True
    run_args.input_scale = params.scale
    run_args.param_scale = params.scale
    # never rescale: a rescale is a division whose rounding the prover may choose (ezkl checks
    # |x - q*d| < d), which would let it move a logit by a step; without it every value is exact
    run_args.scale_rebase_multiplier = rebase
    run_args.decomp_base = params.decomp_base
    run_args.decomp_legs = params.decomp_legs
    run_args.num_inner_cols = params.num_inner_cols
    return run_args


def _setup(model, input_shape, num_classes, n, params: CircuitParams, settings: Settings,
           final: Path, calibration, arch: str, chain: int | None) -> None:
    started = time.monotonic()
    work = final.with_name(f"{final.name}.partial{os.getpid()}")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        _build(model, input_shape, num_classes, n, params, settings, work, calibration, arch,
               chain, started)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    shutil.rmtree(final, ignore_errors=True)
    work.rename(final)


def _build(model, input_shape, num_classes, n, params, settings, work: Path, calibration, arch,
           chain, started) -> None:
    from zkpot.zk.prove import check_witness, input_data
    from zkpot.zk.statement import export_statement

    logit_scale = logit_scale_of(model, params)
    calibrated_model = cm.certify_state_dict(model, model.state_dict(), params.scale, params.scale,
                                             params.range_limit)
    onnx_path = export_statement(model, input_shape, num_classes, n, work / "statement.onnx",
                                 calibrated_model.export_state_dict(), logit_scale=logit_scale,
                                 margin_steps=params.margin_steps)
    if calibration is None:
        rng = np.random.default_rng(0)
        X = rng.random((n, *input_shape), dtype=np.float32)
        y = rng.integers(0, num_classes, n)
    else:
        X, y = calibration
        X, y = np.asarray(X, dtype=np.float32)[:n], np.asarray(y)[:n]
    data = work / "calibration.json"
    data.write_text(json.dumps(input_data(X, cm.labels_onehot(y, num_classes))))
    rebase = max(10, logit_scale // params.scale + 2)
    settings_path = work / "settings.json"
    compiled = work / "statement.compiled"
    _check(ezkl.gen_settings(str(onnx_path), str(settings_path),
                             py_run_args=_run_args(params, rebase)), "gen_settings")
    _check(ezkl.calibrate_settings(str(data), str(onnx_path), str(settings_path), "resources",
                                   scales=[params.scale], scale_rebase_multiplier=[rebase]),
           "calibrate_settings")
    calibrated = json.loads(settings_path.read_text())
    ra = calibrated["run_args"]
    if (ra["input_scale"], ra["param_scale"], ra["scale_rebase_multiplier"]) != \
            (params.scale, params.scale, rebase) \
            or calibrated["model_input_scales"] != [params.scale, 0] \
            or calibrated["model_output_scales"] != [0]:
        raise RuntimeError(f"ezkl calibrated other scales than the statement's: {ra}")
    if ra["logrows"] > settings.max_logrows:
        raise CircuitTooLarge(n, calibrated["num_rows"], ra["logrows"], settings.max_logrows)
    _check(ezkl.compile_circuit(str(onnx_path), str(compiled), str(settings_path)), "compile_circuit")
    logrows = ra["logrows"]
    srs, origin = srs_for(settings, logrows, chain)
    _check(ezkl.setup(str(compiled), str(work / "vk.key"), str(work / "pk.key"), srs_path=str(srs)),
           "setup")
    _check(_ezkl.call(ezkl.create_evm_vka, str(work / "vk.key"), str(settings_path),
                      str(work / "vka.bytes"), srs_path=str(srs)), "create_evm_vka")
    param_order = param_names(onnx_path)
    statement = {"architecture": arch, "n": n, "input_shape": list(input_shape),
                 "num_classes": num_classes, "margin_steps": params.margin_steps,
                 "input_scale": params.scale, "param_scale": params.scale,
                 "logit_scale": logit_scale, "range_limit": params.range_limit,
                 "settings_version": SETTINGS_VERSION, "ezkl_version": ezkl.__version__}
    manifest = {"key": final_name(work), "n": n, "input_shape": list(input_shape),
                "num_classes": num_classes, "params": asdict(params), "logrows": logrows,
                "num_rows": calibrated["num_rows"], "settings_version": SETTINGS_VERSION,
                "ezkl_version": ezkl.__version__, "statement": statement,
                "param_order": param_order,
                "srs": {"sha256": srs_sha256(srs), "logrows": srs_logrows(srs), "origin": origin}}
    # ezkl must evaluate the certified model and commit as zkpot does (module doc)
    check_witness(work, compiled, srs, manifest, calibrated_model, X, y, margin=params.margin_steps)
    files = {p.name: {"sha256": file_sha256(p), "bytes": p.stat().st_size}
             for p in sorted(work.iterdir()) if p.is_file()}
    manifest["setup_s"] = round(time.monotonic() - started, 2)
    manifest["files"] = files
    (work / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))


def final_name(work: Path) -> str:
    return work.name.split(".partial")[0]


def _check(ok, what: str) -> None:
    if ok is False:
        raise RuntimeError(f"ezkl {what} failed")


__all__ = ["Circuit", "CircuitParams", "Weights", "CircuitTooLarge", "ensure_circuit", "spec_circuit",
           "verify_files",
           "check_srs", "SrsMismatch", "SETTINGS_VERSION", "logit_scale_of"]
