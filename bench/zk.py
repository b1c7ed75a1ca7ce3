"""ZKPoT benchmark: accuracy certificates of PoT-trained presets, proven and checked on chain.

The models are trained the way a job trains them: the preset's spec through PoT stages (exact
fixed point), and certified exactly from S_t's integers (``zkpot.certified``). On one test split
(60% of digits, so that it holds 1,024 samples):

- MLP (digits-mlp, 64-16-10): an N=256 certificate (one shard of 256) and an N=1024 one (two
  shards of 512, the layout that meets the gas target: docs/zk.md);
- CNN (digits-cnn-s2): an N=256 certificate (four shards of 64), on the MLP's 256 samples.

``ZKPOT_BENCH_ZK=n256,cnn_n256`` measures only the certificates named (a partial run keeps the
others' figures). Each certificate is proven in a child process (``python -m bench.zk --prove``) that
proves only, as a node's prove worker does: it reads S_t and the test set from a file and never
loads torch (``zk_cert_torch_free_<tag>`` says so), so its peak memory, that child's max RSS, is
a proving process's whole footprint. Setup runs once per circuit (cached), in the parent. Gas: every proof of a
certificate checked by ``verifyAccuracy`` on a throwaway Anvil (default code-size limit), as a
whole transaction, over the single-circuit verifier each circuit deploys with.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

TEST_FRACTION = 0.6
STAGE_FLOPS = 3_650_000          # the short demo job's stage work (demo.run SHORT_STAGE_FLOPS)
# figure tag -> (preset, shard size N, samples certified)
CERTIFICATES = {
    "n256": ("digits-mlp", 256, 256),
    "n1024": ("digits-mlp", 512, 1024),
    "cnn_n256": ("digits-cnn-s2", 64, 256),
    # the other layout of 1,024 samples: four shards of the N=256 circuit
    "n1024_shards256": ("digits-mlp", 256, 1024),
}
QUICK = {"n256": ("digits-mlp", 256, 256)}


def trained(name: str):
    """(spec, S_t, test features, test labels): the preset trained through PoT stages."""
    from zkpot.datasets import demo_dataset, split
    from zkpot.spec import PRESET_DATASETS, preset
    from zkpot.stage import initial_weights, train_stage
    from zkpot.staging import plan_stages

    spec = preset(name)
    train, test = split(demo_dataset(PRESET_DATASETS[name]), TEST_FRACTION, seed=1)
    state = initial_weights(spec)
    for i, idx in enumerate(plan_stages(spec, len(train), STAGE_FLOPS, train.input_shape,
                                        train.num_classes)):
        state = train_stage(spec, state, train.subset(idx), i + 1, compute_secret=False).state
    return spec, state, test.features, test.labels


def _settings(circuit_dir: str):
    from zkpot.config import Settings

    return Settings.from_env(circuit_dir=circuit_dir, max_logrows=20)


def _circuit(name: str, n: int, circuit_dir: str):
    from zkpot.zk.presets import preset_circuit

    _, state, X, y = trained(name)
    return preset_circuit(name, n, _settings(circuit_dir), calibration=(X[:n], y[:n])), state, X, y


def _prove_child(args: dict) -> None:
    """Child: prove one certificate from S_t and the test set in ``args["inputs"]``; print a
    JSON line; keep the proofs for the gas run. Imports no torch (the parent trained)."""
    import numpy as np

    from zkpot.zk import prove_certificate, reference_count, test_set_commitments, verify
    from zkpot.zk.presets import preset_circuit

    inputs = np.load(args["inputs"])
    state, X, y = inputs["state"].tobytes(), inputs["X"], inputs["y"]
    circuit = preset_circuit(args["preset"], args["n"], _settings(args["circuit_dir"]))
    started = time.monotonic()
    proofs = prove_certificate(circuit, state, X, y)
    prove_s = time.monotonic() - started
    h_w = proofs[0].model_commitment
    verified = all(verify(circuit, p, model_commitment=h_w, test_set_commitment=c)
                   for p, c in zip(proofs, test_set_commitments(circuit, X, y)))
    out = {"prove_s": prove_s, "proven": sum(p.correct for p in proofs),
           "reference": reference_count(circuit, state, X, y), "verified": verified,
           "proof_bytes": len(proofs[0].proof), "proofs": len(proofs),
           "torch_loaded": "torch" in sys.modules}
    Path(args["save"]).write_text(json.dumps([{"proof": p.proof.hex(), "instances": p.instances}
                                              for p in proofs]))
    print("RESULT " + json.dumps(out), flush=True)


def run(ctx) -> dict:
    circuit_dir = ctx.work_dir / "circuits"
    results: dict[str, object] = {}
    chosen = QUICK if ctx.quick else CERTIFICATES
    if os.environ.get("ZKPOT_BENCH_ZK"):     # measure again only these (others are kept)
        chosen = {t: chosen[t] for t in os.environ["ZKPOT_BENCH_ZK"].split(",")}
    import numpy as np

    from zkpot.stage import weights_to_float_state_dict
    from zkpot.zk import count_float

    for tag, (name, n, samples) in chosen.items():
        circuit, state, X, y = _circuit(name, n, str(circuit_dir))
        X, y = X[:samples], y[:samples]
        inputs = ctx.work_dir / f"zk-inputs-{tag}.npz"
        np.savez(inputs, state=np.frombuffer(state.to_bytes(), dtype=np.uint8), X=X, y=y)
        float_count = count_float(circuit.model, X, y, weights_to_float_state_dict(state))
        info = circuit.info
        results[f"zk_rows_{tag}"] = info["num_rows"]
        results[f"zk_logrows_{tag}"] = circuit.logrows
        results[f"zk_setup_s_{tag}"] = info["setup_s"]
        results[f"zk_pk_bytes_{tag}"] = circuit.pk_path.stat().st_size
        results[f"zk_shard_{tag}"] = n
        saved = ctx.work_dir / f"zk-proofs-{tag}.json"
        try:
            res, peak = _child_peak({"preset": name, "n": n, "inputs": str(inputs),
                                     "circuit_dir": str(circuit_dir), "save": str(saved)})
        except RuntimeError as exc:  # keep what was measured; say why the rest is missing
            ctx.notes[f"zk_cert_s_{tag}"] = str(exc)
            continue
        results[f"zk_cert_s_{tag}"] = round(res["prove_s"], 2)
        results[f"zk_cert_peak_mb_{tag}"] = peak
        results[f"zk_cert_count_proven_{tag}"] = res["proven"]
        results[f"zk_cert_count_reference_{tag}"] = res["reference"]
        results[f"zk_cert_count_float_{tag}"] = float_count
        results[f"zk_cert_torch_free_{tag}"] = not res["torch_loaded"]
        results[f"zk_cert_verified_{tag}"] = res["verified"]
        results[f"zk_proof_bytes_{tag}"] = res["proof_bytes"]
        results.update(_gas(circuit, saved, tag, ctx))
        if tag in ("n256", "cnn_n256"):
            kind = "mlp" if tag == "n256" else "cnn"
            results[f"zk_cert_accuracy_{kind}"] = round(res["proven"] / samples, 4)
        ctx.notes[f"zk_{tag}"] = (f"{name}, {samples} samples in {samples // n} shard(s) of N={n}: "
                                  f"2^{circuit.logrows} rows ({info['num_rows']:,} used), "
                                  f"proven {res['proven']} = reference {res['reference']} "
                                  f"(float {float_count}); load {os.getloadavg()[0]:.1f} after")
    if "zk_gas_per_proof_n256" in results:
        results["gas_verify_proof"] = results["zk_gas_per_proof_n256"]
    sizes = [v for k, v in results.items() if k.startswith("verifier_bytecode_bytes_")]
    if sizes:
        results["verifier_bytecode_bytes"] = max(sizes)
    if ctx.quick:
        ctx.notes["zk_cert_s_n1024"] = "skipped in --quick"
    return results


def _child_peak(args: dict) -> tuple[dict, float]:
    proc = subprocess.Popen([sys.executable, "-m", "bench.zk", "--prove", json.dumps(args)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    line = next((l for l in out.splitlines() if l.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"prove child failed (wait status {status}, peak "
                           f"{usage.ru_maxrss / 1024:.0f} MB)")
    return json.loads(line[7:]), round(usage.ru_maxrss / 1024, 1)


def _gas(circuit, saved: Path, tag: str, ctx) -> dict:
    """Deploy the circuit's verifier on a fresh Anvil and check every proof of the certificate."""
    from zkpot.chain import ChainClient
    from zkpot.devnet import Anvil, dev_private_keys
    from zkpot.zk.evm import ADAPTER_NAME, deploy_accuracy_verifier

    proofs = json.loads(saved.read_text())
    with Anvil() as chain:
        client = ChainClient(chain.rpc_url, dev_private_keys(1)[0])
        adapter = client.contract(ADAPTER_NAME, deploy_accuracy_verifier(client, circuit))
        gas = [client.transact(adapter.functions.verifyAccuracy(bytes.fromhex(p["proof"]),
                                                                p["instances"])).gas_used
               for p in proofs]
        kind = "reusable" if client.call(adapter.functions.reusable()) else "single"
        code = len(client.w3.eth.get_code(client.call(adapter.functions.verifier())))
        adapter_code = len(client.w3.eth.get_code(adapter.address))
    ctx.notes[f"verifier_{tag}"] = (f"{kind} Halo2 verifier {code} B runtime + EzklAccuracyVerifier "
                                    f"{adapter_code} B; gas per verifyAccuracy transaction {gas}")
    return {f"gas_cert_{tag}": sum(gas), f"zk_gas_per_proof_{tag}": max(gas),
            f"verifier_bytecode_bytes_{tag}": code}


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
