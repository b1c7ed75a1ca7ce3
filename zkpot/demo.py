"""``make demo``: start the local services and run zkpot's demo flow.

Until the end-to-end flow lands this is a smoke run: it starts Anvil and Redis on the
project's ports, checks both answer, and stops them.
"""

from __future__ import annotations

import argparse
import time

from zkpot.config import get_settings
from zkpot.devnet import Anvil, Redis


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="run the zkpot demo")
    parser.add_argument("--keep-running", action="store_true", help="leave services up at the end")
    args = parser.parse_args(argv)
    settings = get_settings()
    started = time.monotonic()
    anvil_port = int(settings.rpc_url.rsplit(":", 1)[1])
    redis_port = int(settings.redis_url.rsplit(":", 1)[1].split("/")[0])
    logs = settings.path("logs")
    with Anvil(port=anvil_port, log_dir=logs) as chain, Redis(port=redis_port, log_dir=logs):
        print(f"chain  {chain.rpc_url}")
        print(f"redis  redis://127.0.0.1:{redis_port}")
        if args.keep_running:
            print("services running; Ctrl-C stops them")
            try:
                while True:
                    time.sleep(1)
            except KeyboardInterrupt:
                pass
    print(f"demo finished in {time.monotonic() - started:.1f} s (smoke flow)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
