"""EVM side of the accuracy proofs: ezkl's Halo2 verifiers and the per-circuit adapter.

Two verifier kinds (docs/zk.md measures both):

- ``single``: ezkl's verifier with the circuit's verifying key compiled in, generated from the
  circuit (never edited) and compiled here with the project's solc-js at deployment. Cheaper
  per check; its code grows with the circuit, so it is used while it fits EIP-170.
- ``reusable``: ezkl's reusable verifier (``contracts/zk/generated``, one for every circuit) plus
  the circuit's verifying-key artifact (VKA), stored and registered by the adapter.

``EzklAccuracyVerifier`` pins the VKA hash, the SRS hash and the statement (δ, N, statement
hash) as immutables; ``check_verifier`` recomputes them from the circuit and its SRS and
compares (a typed result). Deployment goes through the chain client, so no web3 here, and it
refuses a circuit set up with a local SRS on a chain that is not a development chain.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ezkl

from zkpot.config import PROJECT_ROOT
from zkpot.hashing import keccak
from zkpot.zk import _ezkl
from zkpot.zk.circuit import Circuit, check_srs
from zkpot.zk.srs import require_srs_for_chain

GENERATED_DIR = PROJECT_ROOT / "contracts" / "zk" / "generated"
VERIFIER_NAME = "Halo2VerifierReusable"
SINGLE_NAME = "Halo2Verifier"
ADAPTER_NAME = "EzklAccuracyVerifier"
EIP170_LIMIT = 24576
SOLC_PACKAGE = PROJECT_ROOT / "tools" / "node_modules" / "solc"
SOLC_SHIM = PROJECT_ROOT / "tools" / "solc-shim.js"
SOLC_VERSION = "0.8.28"  # brownie-config.yaml's compiler: every contract's pragma
# solc 0.8.28 as the project pins it; Cancun for PUSH0 (the verifier is mostly pushes of
# constants: ~1 KB smaller and cheaper than Paris code)
SOLC_SETTINGS = {"optimizer": {"enabled": True, "runs": 200}, "evmVersion": "cancun"}


@dataclass(frozen=True)
class CompiledVerifier:
    """A single-circuit verifier: ABI, creation code and runtime code (hex, no 0x)."""

    abi: list
    bytecode: str
    runtime: str

    @property
    def runtime_hash(self) -> bytes:
        return keccak(bytes.fromhex(self.runtime))


def vka_hash(circuit: Circuit) -> bytes:
    """keccak256 of the circuit's VKA words, as ``EzklAccuracyVerifier`` hashes them."""
    return keccak(b"".join(circuit.vka_words()))


def srs_hash(circuit: Circuit) -> bytes:
    """sha256 of the SRS file the circuit's keys were set up with."""
    return bytes.fromhex(circuit.info["srs"]["sha256"])


def generate_verifier(circuit: Circuit, out_dir: Path = GENERATED_DIR) -> Path:
    """Render ezkl's reusable Halo2 verifier (Solidity) from a cached circuit."""
    check_srs(circuit)
    _ezkl.solc_for_ezkl()
    out_dir.mkdir(parents=True, exist_ok=True)
    sol = out_dir / f"{VERIFIER_NAME}.sol"
    abi = circuit.dir / f"{VERIFIER_NAME}.abi"
    ok = _ezkl.call(ezkl.create_evm_verifier, str(circuit.vk_path), str(circuit.settings_path),
                    str(sol), str(abi), srs_path=str(circuit.srs_path), reusable=True)
    if ok is False:
        raise RuntimeError("ezkl create_evm_verifier failed")
    sol.write_text(one_pragma(sol.read_text()))
    return sol


def one_pragma(source: str) -> str:
    """ezkl writes ``pragma solidity ^0.8.0``; every contract of zkpot states the compiler it
    is built and tested with (brownie-config.yaml's 0.8.28)."""
    return re.sub(r"^pragma solidity [^;]+;", f"pragma solidity ^{SOLC_VERSION};", source, count=1, flags=re.M)


def compile_single_verifier(circuit: Circuit, *, fresh: bool = False) -> CompiledVerifier:
    """ezkl's single-circuit verifier of ``circuit``, generated and compiled with solc-js; kept
    in the circuit folder (``Halo2Verifier.json``) unless ``fresh``."""
    cached = circuit.dir / f"{SINGLE_NAME}.json"
    if cached.exists() and not fresh:
        kept = json.loads(cached.read_text())
        if kept.pop("solc", None) == SOLC_SETTINGS:
            return CompiledVerifier(**kept)
    check_srs(circuit)
    _ezkl.solc_for_ezkl()
    with tempfile.TemporaryDirectory(dir=circuit.dir.parent) as tmp:
        sol, abi = Path(tmp) / f"{SINGLE_NAME}.sol", Path(tmp) / f"{SINGLE_NAME}.abi"
        ok = _ezkl.call(ezkl.create_evm_verifier, str(circuit.vk_path), str(circuit.settings_path),
                        str(sol), str(abi), srs_path=str(circuit.srs_path), reusable=False)
        if ok is False:
            raise RuntimeError("ezkl create_evm_verifier failed")
        compiled = _solc(sol.read_text())
    if not fresh:
        partial = cached.with_suffix(".partial")
        partial.write_text(json.dumps({**compiled.__dict__, "solc": SOLC_SETTINGS}))
        partial.replace(cached)
    return compiled


def _solc(source: str) -> CompiledVerifier:
    request = {"language": "Solidity", "sources": {"Verifier.sol": {"content": source}},
               "settings": {**SOLC_SETTINGS, "outputSelection": {
                   "*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}}}}
    node = shutil.which("node") or "node"
    done = subprocess.run([node, str(SOLC_SHIM), str(SOLC_PACKAGE), "--standard-json"],
                          input=json.dumps(request), capture_output=True, text=True, check=True)
    output = json.loads(done.stdout)
    errors = [e["formattedMessage"] for e in output.get("errors", []) if e["severity"] == "error"]
    if errors:
        raise RuntimeError("solc: " + "\n".join(errors[:3]))
    built = [c for c in output["contracts"]["Verifier.sol"].values() if c["evm"]["bytecode"]["object"]]
    if len(built) != 1:
        raise RuntimeError(f"expected one verifier contract, solc built {len(built)}")
    evm = built[0]["evm"]
    return CompiledVerifier(built[0]["abi"], evm["bytecode"]["object"], evm["deployedBytecode"]["object"])


def verifier_kind(circuit: Circuit) -> str:
    """``single`` while the single-circuit verifier fits EIP-170, else ``reusable``."""
    size = len(compile_single_verifier(circuit).runtime) // 2
    return "single" if size <= EIP170_LIMIT else "reusable"


def deploy_halo2_verifier(client: Any) -> str:
    """Deploy the shared reusable verifier once; every circuit's adapter can point at it."""
    return client.deploy(VERIFIER_NAME).address


def deploy_accuracy_verifier(client: Any, circuit: Circuit, halo2_verifier: str | None = None,
                             kind: str | None = None) -> str:
    """Deploy ``EzklAccuracyVerifier`` for ``circuit`` over its Halo2 verifier; returns the
    adapter address, the one the escrow or a federated task takes as its ``IAccuracyVerifier``.

    ``kind`` is ``single`` or ``reusable`` (default: ``verifier_kind``); ``halo2_verifier`` is an
    already deployed reusable verifier. ``client`` is a ``zkpot.chain.ChainClient`` with a key.
    """
    require_srs_for_chain(circuit.srs_origin, client.chain_id, "deploying a verifier")
    check_srs(circuit)
    kind = kind or ("reusable" if halo2_verifier else verifier_kind(circuit))
    if kind == "single":
        compiled = compile_single_verifier(circuit)
        verifier, vka = client.deploy_compiled(compiled.abi, compiled.bytecode).address, []
    elif kind == "reusable":
        verifier, vka = halo2_verifier or deploy_halo2_verifier(client), circuit.vka_words()
    else:
        raise ValueError(f"unknown verifier kind {kind!r}")
    return client.deploy(ADAPTER_NAME, verifier, vka, vka_hash(circuit), srs_hash(circuit),
                         circuit.statement_hash, circuit.margin_steps, circuit.n).address


def deploy_verifier_contracts(client: Any, circuit: Circuit, halo2_verifier: str | None = None,
                              kind: str | None = None) -> dict[str, str]:
    """``deploy_accuracy_verifier``, returning the deployment-map entries it made: the adapter
    under ``EzklAccuracyVerifier`` and its Halo2 verifier under ``Halo2Verifier`` (single) or
    ``Halo2VerifierReusable``."""
    adapter = deploy_accuracy_verifier(client, circuit, halo2_verifier, kind)
    view = client.contract(ADAPTER_NAME, adapter).functions
    name = VERIFIER_NAME if client.call(view.reusable()) else SINGLE_NAME
    return {name: client.call(view.verifier()), ADAPTER_NAME: adapter}


def verifier_record(client: Any, adapter: str, circuit: Circuit) -> dict:
    """What the deployment map records of a deployed accuracy verifier: its circuit, the SRS it
    was set up with (sha256, origin) and the hashes its contract pins (read from the chain)."""
    view = client.contract(ADAPTER_NAME, adapter).functions
    return {"circuit": circuit.key, "shard_size": circuit.n, "margin_steps": circuit.margin_steps,
            "kind": "reusable" if client.call(view.reusable()) else "single",
            "srs_sha256": "0x" + bytes(client.call(view.srsHash())).hex(),
            "srs_origin": circuit.srs_origin, "srs_logrows": circuit.logrows,
            "vka_hash": "0x" + bytes(client.call(view.vkaHash())).hex(),
            "statement_hash": "0x" + bytes(client.call(view.statementHash())).hex()}


@dataclass(frozen=True)
class VerifierCheck:
    """A deployed verifier compared with a circuit: each field is (expected, deployed)."""

    address: str
    kind: str
    vka_hash: tuple[bytes, bytes]
    srs_hash: tuple[bytes, bytes]
    statement_hash: tuple[bytes, bytes]
    margin_steps: tuple[int, int]
    shard_size: tuple[int, int]
    verifier_code: tuple[bytes, bytes]

    @property
    def mismatches(self) -> list[str]:
        """The names of the fields that differ."""
        return [name for name in ("vka_hash", "srs_hash", "statement_hash", "margin_steps",
                                  "shard_size", "verifier_code")
                if getattr(self, name)[0] != getattr(self, name)[1]]

    @property
    def matches(self) -> bool:
        return not self.mismatches


def verifier_mismatches(client: Any, address: str, circuit: Circuit) -> list[str]:
    """What the accuracy verifier at ``address`` pins that ``circuit`` does not: statement,
    shard size, δ, SRS hash, VKA hash (read from its views; the VKA hash from the circuit's own
    artifact). [] when it verifies this circuit's proofs; ["no contract"] when nothing is there."""
    from web3 import Web3

    address = Web3.to_checksum_address(address)
    if not client.rpc(lambda: client.w3.eth.get_code(address)):
        return ["no contract"]
    adapter = client.contract(ADAPTER_NAME, address)
    try:
        view = {name: client.call(getattr(adapter.functions, name)())
                for name in ("statementHash", "shardSize", "marginSteps", "srsHash", "vkaHash")}
    except Exception:            # another contract: its views are not there
        return ["not an EzklAccuracyVerifier"]
    expected = {"statementHash": circuit.statement_hash, "shardSize": circuit.n,
                "marginSteps": circuit.margin_steps, "srsHash": srs_hash(circuit),
                "vkaHash": vka_hash(circuit)}
    names = {"statementHash": "statement", "shardSize": "shard size", "marginSteps": "margin",
             "srsHash": "SRS", "vkaHash": "verifying key"}
    return [f"{names[k]} ({view[k]!r} deployed, {v!r} for this job)" if k in ("shardSize", "marginSteps")
            else names[k] for k, v in expected.items()
            if (bytes(view[k]) if isinstance(v, bytes) else view[k]) != v]


# a deployment-map record's fields -> the VerifierCheck field recomputed for it
RECORDED = {"srs_sha256": "srs_hash", "vka_hash": "vka_hash", "statement_hash": "statement_hash",
            "shard_size": "shard_size", "margin_steps": "margin_steps"}


def _as_recorded(value):
    return "0x" + bytes(value).hex() if isinstance(value, (bytes, bytearray)) else value


def record_mismatches(record: dict | None, check: VerifierCheck) -> list[str]:
    """The fields of a deployment-map record (``verifier_record``) that differ from what was
    recomputed from the circuit and its SRS (``check``); every field when there is no record."""
    if record is None:
        return list(RECORDED)
    return [key for key, name in RECORDED.items()
            if record.get(key) != _as_recorded(getattr(check, name)[0])]


def recompute_vka(circuit: Circuit) -> bytes:
    """keccak256 of the VKA words ezkl makes from the circuit's verifying key and SRS now."""
    check_srs(circuit)
    with tempfile.TemporaryDirectory(dir=circuit.dir.parent) as tmp:
        out = Path(tmp) / "vka.bytes"
        if _ezkl.call(ezkl.create_evm_vka, str(circuit.vk_path), str(circuit.settings_path),
                      str(out), srs_path=str(circuit.srs_path)) is False:
            raise RuntimeError("ezkl create_evm_vka failed")
        raw = out.read_bytes()
    count = int.from_bytes(raw[:8], "little")
    return keccak(raw[8:8 + 32 * count])


def check_verifier(client: Any, address: str, circuit: Circuit) -> VerifierCheck:
    """Compare the ``EzklAccuracyVerifier`` at ``address`` with ``circuit``: the VKA and the
    verifier code recomputed from the circuit and its SRS, the SRS hash and the statement."""
    adapter = client.contract(ADAPTER_NAME, address)
    view = lambda name: client.call(getattr(adapter.functions, name)())  # noqa: E731
    reusable = view("reusable")
    if reusable:
        expected_code = keccak(bytes.fromhex(_runtime_of_artifact(VERIFIER_NAME)))
    else:
        expected_code = compile_single_verifier(circuit, fresh=True).runtime_hash
    return VerifierCheck(
        address=address, kind="reusable" if reusable else "single",
        vka_hash=(recompute_vka(circuit), bytes(view("vkaHash"))),
        srs_hash=(srs_hash(circuit), bytes(view("srsHash"))),
        statement_hash=(circuit.statement_hash, bytes(view("statementHash"))),
        margin_steps=(circuit.margin_steps, view("marginSteps")),
        shard_size=(circuit.n, view("shardSize")),
        verifier_code=(expected_code, bytes(view("verifierCodeHash"))))


def _runtime_of_artifact(name: str) -> str:
    """The runtime code brownie compiled for ``name`` (the reusable verifier is not generated
    per circuit: the project compiles it once)."""
    from zkpot.chain.artifacts import BUILD_DIR

    data = json.loads((BUILD_DIR / "contracts" / f"{name}.json").read_text())
    return data["deployedBytecode"].removeprefix("0x")


__all__ = ["ADAPTER_NAME", "CompiledVerifier", "SINGLE_NAME", "VERIFIER_NAME", "VerifierCheck",
           "check_verifier", "compile_single_verifier", "deploy_accuracy_verifier",
           "deploy_verifier_contracts",
           "deploy_halo2_verifier", "generate_verifier", "recompute_vka", "srs_hash",
           "record_mismatches", "verifier_kind", "verifier_mismatches", "verifier_record", "vka_hash"]
