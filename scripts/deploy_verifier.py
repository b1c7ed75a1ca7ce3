"""Deploy the accuracy verifier of a preset circuit and add it to the deployment map.

    tools/with-env.sh python -m scripts.deploy_verifier [--preset digits-mlp] [--n 64]

Deploys ezkl's reusable Halo2 verifier (or reuses ``--halo2-verifier ADDRESS``) and an
``EzklAccuracyVerifier`` holding the circuit's verifying-key artifact. The deployer key is
``ZKPOT_EMPLOYER_KEY`` (or ``--key-env NAME``); on a dev chain with neither, Anvil's first dev
key. A thin door over ``zkpot.zk.evm.deploy_accuracy_verifier``.
"""

from __future__ import annotations

import argparse
import os

from zkpot.chain import ChainClient, Deployment
from zkpot.config import get_settings
from zkpot.zk.evm import ADAPTER_NAME, VERIFIER_NAME, deploy_accuracy_verifier, deploy_halo2_verifier
from zkpot.zk.presets import PRESET_SHAPES, preset_circuit

DEV_CHAIN_IDS = {31337, 1337}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="digits-mlp", choices=sorted(PRESET_SHAPES))
    parser.add_argument("--n", type=int, default=64, help="shard size N of the circuit")
    parser.add_argument("--halo2-verifier", default=None, help="an already deployed shared verifier")
    parser.add_argument("--key-env", default="ZKPOT_EMPLOYER_KEY", help="variable holding the deployer key")
    args = parser.parse_args(argv)

    settings = get_settings()
    key = os.environ.get(args.key_env)
    if not key:
        if ChainClient.from_settings(settings, read_only=True).chain_id not in DEV_CHAIN_IDS:
            parser.error(f"set {args.key_env}: no dev key is used outside a dev chain")
        from zkpot.devnet import dev_private_keys

        key = dev_private_keys(1)[0]
    client = ChainClient.from_settings(settings, private_key=key)
    circuit = preset_circuit(args.preset, args.n, settings)
    halo2 = args.halo2_verifier or deploy_halo2_verifier(client)
    adapter = deploy_accuracy_verifier(client, circuit, halo2_verifier=halo2)
    Deployment(chain_id=client.chain_id, block=client.block_number(),
               contracts={VERIFIER_NAME: halo2, ADAPTER_NAME: adapter}).save(settings.deployment_path)
    print(f"{VERIFIER_NAME}: {halo2}\n{ADAPTER_NAME}: {adapter}\ndeployment map: {settings.deployment_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
