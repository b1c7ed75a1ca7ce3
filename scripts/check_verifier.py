"""Recompute an accuracy verifier's artifacts from its circuit and SRS and compare them with the
deployed contract and the deployment map.

    tools/with-env.sh python -m scripts.check_verifier [--preset digits-mlp] [--n N] [--address A]

Recomputes the verifying-key artifact (VKA) from the circuit's verifying key and SRS, and the
verifier code (the single-circuit verifier generated and compiled again; the reusable one from
the project's build), then compares them, the SRS hash, the statement, δ and the shard size
with what the contract at ``--address`` (default: the deployment map's EzklAccuracyVerifier)
pins and with what the deployment map recorded for it. Exits 1 on any mismatch. A thin door over
``zkpot.zk.evm.check_verifier``.
"""

from __future__ import annotations

import argparse

from zkpot.chain import ChainClient, load_deployment
from zkpot.config import get_settings
from zkpot.zk.evm import ADAPTER_NAME, check_verifier, record_mismatches
from zkpot.zk.presets import PRESET_SHAPES, preset_circuit

def _as_recorded(value):
    return "0x" + bytes(value).hex() if isinstance(value, (bytes, bytearray)) else value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="digits-mlp", choices=sorted(PRESET_SHAPES))
    parser.add_argument("--n", type=int, default=None, help="shard size N (default: the preset's)")
    parser.add_argument("--address", default=None, help="the EzklAccuracyVerifier to check")
    args = parser.parse_args(argv)

    settings = get_settings()
    client = ChainClient.from_settings(settings)
    deployment = load_deployment(settings)
    address = args.address or deployment.contracts.get(ADAPTER_NAME)
    if not address:
        parser.error(f"no {ADAPTER_NAME} in {settings.deployment_path}; pass --address")
    circuit = preset_circuit(args.preset, args.n, settings, chain_id=client.chain_id)
    check = check_verifier(client, address, circuit)
    bad = 0
    for name in ("vka_hash", "srs_hash", "statement_hash", "margin_steps", "shard_size", "verifier_code"):
        expected, deployed = getattr(check, name)
        ok = expected == deployed
        bad += not ok
        print(f"{'ok' if ok else 'MISMATCH':8} {name:15} contract {_as_recorded(deployed)}  "
              f"recomputed {_as_recorded(expected)}")
    record = next((r for a, r in deployment.verifiers.items() if a.lower() == address.lower()), None)
    mismatched = record_mismatches(record, check)
    bad += len(mismatched)
    print("ok       deployment map record" if not mismatched else
          f"MISMATCH deployment map record of {address}: " + (", ".join(mismatched) if record
                                                             else "missing"))
    print(f"verifier {address} ({check.kind}), circuit {circuit.key}: "
          + ("matches" if not bad else f"{bad} mismatch(es)"))
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
