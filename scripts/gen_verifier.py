"""Regenerate the EVM verifier artifacts from a cached accuracy circuit (never edit them by hand).

    tools/with-env.sh python -m scripts.gen_verifier [--preset digits-mlp] [--n 64]

Writes ezkl's reusable Halo2 verifier to ``contracts/zk/generated/Halo2VerifierReusable.sol``
(the same for every circuit) and the circuit's verifying-key artifact to
``contracts/zk/vka/<preset>-n<N>.bytes``. Sets the circuit up first when it is not cached.
"""

from __future__ import annotations

import argparse
import json
import shutil

from zkpot.config import PROJECT_ROOT, get_settings
from zkpot.zk.evm import generate_verifier
from zkpot.zk.presets import PRESET_SHAPES, preset_circuit


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="digits-mlp", choices=sorted(PRESET_SHAPES))
    parser.add_argument("--n", type=int, default=None, help="shard size N (default: the preset's)")
    args = parser.parse_args(argv)

    circuit = preset_circuit(args.preset, args.n, get_settings())
    sol = generate_verifier(circuit)
    vka_dir = PROJECT_ROOT / "contracts" / "zk" / "vka"
    vka_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{args.preset}-n{circuit.n}"
    shutil.copyfile(circuit.vka_path, vka_dir / f"{stem}.bytes")
    (vka_dir / f"{stem}.json").write_text(json.dumps(
        {"circuit_key": circuit.key, "logrows": circuit.logrows, "vka_words": len(circuit.vka_words()),
         "params": circuit.info["params"], "ezkl_version": circuit.info["ezkl_version"]},
        indent=2, sort_keys=True) + "\n")
    print(f"verifier: {sol}\nverifying-key artifact: {vka_dir / (stem + '.bytes')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
