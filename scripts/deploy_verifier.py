"""Deploy the accuracy verifier of a preset circuit and add it to the deployment map.

    tools/with-env.sh python -m scripts.deploy_verifier [--preset digits-mlp] [--n N]
        [--kind single|reusable] [--halo2-verifier ADDRESS]

Deploys ``EzklAccuracyVerifier`` over ezkl's single-circuit verifier (generated and compiled
from the circuit; the default while it fits EIP-170) or over the reusable verifier (reused with
``--halo2-verifier ADDRESS``), pinning the circuit's VKA hash, SRS hash and statement (also
recorded in the deployment map under ``verifiers``), then checks the deployment against the
circuit (``zkpot.zk.evm.check_verifier``; later: ``scripts/check_verifier.py``). On a chain
that is not a development chain the circuit must have been set up with a ceremony SRS (``ZKPOT_SRS_PATH``).
The deployer key is ``ZKPOT_EMPLOYER_KEY`` (or ``--key-env NAME``); on a dev chain with neither,
Anvil's first dev key. A thin door over ``zkpot.zk.evm``.
"""

from __future__ import annotations

import argparse
import os

from zkpot.chain import ChainClient, Deployment
from zkpot.config import get_settings
from zkpot.zk.evm import ADAPTER_NAME, check_verifier, deploy_verifier_contracts, verifier_record
from zkpot.zk.presets import PRESET_SHAPES, preset_circuit
from zkpot.zk.srs import is_dev_chain


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="digits-mlp", choices=sorted(PRESET_SHAPES))
    parser.add_argument("--n", type=int, default=None, help="shard size N (default: the preset's)")
    parser.add_argument("--kind", choices=["single", "reusable"], default=None)
    parser.add_argument("--halo2-verifier", default=None, help="an already deployed reusable verifier")
    parser.add_argument("--key-env", default="ZKPOT_EMPLOYER_KEY", help="variable holding the deployer key")
    args = parser.parse_args(argv)

    settings = get_settings()
    chain_id = ChainClient.from_settings(settings, read_only=True).chain_id
    key = os.environ.get(args.key_env)
    if not key:
        if not is_dev_chain(chain_id):
            parser.error(f"set {args.key_env}: no dev key is used outside a dev chain")
        from zkpot.devnet import dev_private_keys

        key = dev_private_keys(1)[0]
    client = ChainClient.from_settings(settings, private_key=key)
    circuit = preset_circuit(args.preset, args.n, settings, chain_id=chain_id)
    contracts = deploy_verifier_contracts(client, circuit, args.halo2_verifier, args.kind)
    check = check_verifier(client, contracts[ADAPTER_NAME], circuit)
    if not check.matches:
        parser.error(f"the deployed verifier does not match the circuit: {check.mismatches}")
    adapter = contracts[ADAPTER_NAME]
    Deployment(chain_id=client.chain_id, block=client.block_number(), contracts=contracts,
               verifiers={adapter: verifier_record(client, adapter, circuit)}
               ).save(settings.deployment_path)
    for name, address in contracts.items():
        print(f"{name}: {address}")
    print(f"circuit {circuit.key}: N={circuit.n}, margin {circuit.margin_steps} step(s), "
          f"statement {circuit.statement_hash.hex()}, SRS {circuit.info['srs']['sha256']} "
          f"({circuit.srs_origin})\ndeployment map: {settings.deployment_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
