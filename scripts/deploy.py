"""Deploy zkpot's contracts and write the deployment map (``ZKPOT_DEPLOYMENT_FILE``).

    tools/with-env.sh python -m scripts.deploy [--mock-verifier] [--min-stake WEI] ...

The deployer key is ``ZKPOT_EMPLOYER_KEY`` (dev) or ``--key-env NAME``; on a dev chain with
neither, Anvil's first dev key. A thin door over ``zkpot.chain.deploy_all``.
"""

from __future__ import annotations

import argparse
import os

from zkpot.chain import ChainClient, deploy_all
from zkpot.chain.deployment import DEFAULT_EXIT_COOLDOWN, DEFAULT_MIN_STAKE
from zkpot.config import get_settings

DEV_CHAIN_IDS = {31337, 1337}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mock-verifier", action="store_true", help="also deploy the test verifier")
    parser.add_argument("--min-stake", type=int, default=DEFAULT_MIN_STAKE)
    parser.add_argument("--slash-amount", type=int, default=None,
                        help="collateral of one open declaration; default: a quarter of the minimum stake")
    parser.add_argument("--exit-cooldown", type=int, default=DEFAULT_EXIT_COOLDOWN)
    parser.add_argument("--key-env", default="ZKPOT_EMPLOYER_KEY", help="variable holding the deployer key")
    args = parser.parse_args(argv)

    settings = get_settings()
    key = os.environ.get(args.key_env)
    if not key:
        probe = ChainClient(settings.rpc_url)
        if probe.chain_id not in DEV_CHAIN_IDS:
            parser.error(f"set {args.key_env}: no dev key is used outside a dev chain")
        from zkpot.devnet import dev_private_keys

        key = dev_private_keys(1)[0]
    client = ChainClient.from_settings(settings, private_key=key)
    deployment = deploy_all(client, min_stake=args.min_stake, slash_amount=args.slash_amount,
                            exit_cooldown=args.exit_cooldown, mock_verifier=args.mock_verifier,
                            path=settings.deployment_path)
    for name, address in sorted(deployment.contracts.items()):
        print(f"{name}: {address}")
    print(f"deployment map: {settings.deployment_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
