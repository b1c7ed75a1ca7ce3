"""ZKPoT benchmark: the digits MLP preset, shards of N=64, certificates of 64 and 256 samples.

Proving runs in a child process (``python -m bench.zk --prove``) so its peak memory is that
child's max RSS. Setup runs once (cached circuit); gas is measured on a throwaway Anvil.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

PRESET = "digits-mlp"
SHARD = 64


def _train(seed: int = 0):
    """The preset model trained briefly on the digits train split (a float baseline)."""
    import torch

    from zkpot.datasets import demo_dataset, split
    from zkpot.spec import build_model, preset

    train, test = split(demo_dataset("digits"), 0.3, seed=1)
    torch.manual_seed(seed)
    model = build_model(preset(PRESET))
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    X, y = torch.as_tensor(train.features), torch.as_tensor(train.labels)
    model.train()
    for _ in range(30):
        for i in range(0, len(X), 64):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(X[i:i + 64]), y[i:i + 64]).backward()
            opt.step()
    model.eval()
    return model, test.features, test.labels


def _prove_child(args: dict) -> None:
    """Child: prove a certificate over the first ``samples`` test samples; print a JSON line."""
    from zkpot.config import Settings
    from zkpot.zk import count_float, prove_certificate, verify
    from zkpot.zk.presets import preset_circuit

    settings = Settings.from_env(circuit_dir=args["circuit_dir"])
    model, X, y = _train()
    circuit = preset_circuit(PRESET, SHARD, settings, calibration=(X[:SHARD], y[:SHARD]))
    X, y = X[: args["samples"]], y[: args["samples"]]
    state = model.state_dict()
    started = time.monotonic()
    proofs = prove_certificate(circuit, state, X, y)
    prove_s = time.monotonic() - started
    out = {"prove_s": prove_s, "proven": sum(p.correct for p in proofs),
           "float": count_float(model, X, y), "verified": all(verify(circuit, p) for p in proofs),
           "proof_bytes": len(proofs[0].proof), "setup_created": circuit.created}
    if args.get("save_proof"):
        Path(args["save_proof"]).write_text(json.dumps(
            {"proof": proofs[0].proof.hex(), "instances": proofs[0].instances}))
    print("RESULT " + json.dumps(out), flush=True)


def run(ctx) -> dict:
    from zkpot.config import Settings
    from zkpot.zk.presets import preset_circuit

    circuit_dir = ctx.work_dir / "circuits"
    settings = Settings.from_env(circuit_dir=circuit_dir)
    results: dict[str, object] = {}
    _, X, y = _train()
    circuit = preset_circuit(PRESET, SHARD, settings, calibration=(X[:SHARD], y[:SHARD]))
    results["zk_setup_s_n64"] = circuit.info["setup_s"]
    results["zk_pk_bytes_n64"] = circuit.pk_path.stat().st_size
    results["zk_vk_bytes_n64"] = circuit.vk_path.stat().st_size
    results["zk_logrows_n64"] = circuit.logrows
    # a certificate over 256 samples is 4 shards of the same circuit: the same proving key
    results["zk_pk_bytes_n256"] = results["zk_pk_bytes_n64"]

    proof_file = ctx.work_dir / "zk-proof-n64.json"
    for samples in ([SHARD] if ctx.quick else [SHARD, 4 * SHARD]):
        tag = f"n{samples}"
        try:
            res, peak = _child_peak(circuit_dir, samples, proof_file)
        except RuntimeError as exc:  # keep what was measured; say why the rest is missing
            ctx.notes[f"zk_prove_s_{tag}"] = str(exc)
            break
        results[f"zk_prove_s_{tag}"] = round(res["prove_s"], 2)
        results[f"zk_prove_peak_mb_{tag}"] = peak
        results[f"zk_count_proven_{tag}"] = res["proven"]
        results[f"zk_count_float_{tag}"] = res["float"]
        results[f"zk_verified_{tag}"] = res["verified"]
        results["zk_proof_bytes"] = res["proof_bytes"]
        if samples == SHARD:
            results.update(_gas(circuit, proof_file, ctx))
    if ctx.quick:
        ctx.notes["zk_prove_s_n256"] = "skipped in --quick"
    return results


def _child_peak(circuit_dir: Path, samples: int, proof_file: Path) -> tuple[dict, float | None]:
    proc = subprocess.Popen([sys.executable, "-m", "bench.zk", "--prove",
                             json.dumps({"circuit_dir": str(circuit_dir), "samples": samples,
                                         "save_proof": str(proof_file)})],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    line = next((l for l in out.splitlines() if l.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"prove child failed (wait status {status}, peak "
                           f"{usage.ru_maxrss / 1024:.0f} MB)")
    return json.loads(line[7:]), round(usage.ru_maxrss / 1024, 1)


def _gas(circuit, proof_file: Path, ctx) -> dict:
    """Deploy the verifier on a fresh Anvil (default code-size limit) and check the N=64 proof."""
    from zkpot.chain import ChainClient
    from zkpot.devnet import Anvil, dev_private_keys
    from zkpot.zk.evm import deploy_accuracy_verifier

    saved = json.loads(proof_file.read_text())
    proof, instances = bytes.fromhex(saved["proof"]), saved["instances"]
    with Anvil() as chain:
        client = ChainClient(chain.rpc_url, dev_private_keys(1)[0])
        address = deploy_accuracy_verifier(client, circuit)
        adapter = client.contract("EzklAccuracyVerifier", address)
        halo2 = client.call(adapter.functions.verifier())
        receipt = client.transact(adapter.functions.verifyAccuracy(proof, instances))
        sizes = [len(client.w3.eth.get_code(a)) for a in (halo2, address)]
    ctx.notes["verifier_bytecode_bytes"] = (
        f"Halo2VerifierReusable {sizes[0]} B + EzklAccuracyVerifier {sizes[1]} B "
        f"(+ VKA data contracts, {len(circuit.vka_words()) * 32} B); deployed without raising the limit")
    return {"verifier_bytecode_bytes": max(sizes), "gas_verify_proof": receipt.gas_used,
            "zk_vka_bytes_n64": len(circuit.vka_words()) * 32}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prove", help="child mode: JSON arguments")
    args = parser.parse_args(argv)
    if args.prove:
        _prove_child(json.loads(args.prove))
        return 0
    from bench.run import main as bench_main

    return bench_main(["--only", "zk"])


if __name__ == "__main__":
    raise SystemExit(main())
