"""Participant worker mode: follow a federated task and take part in every round it opens.

A thin loop over ``zkpot.federated``: the participant's private data is read from a local
file and never leaves this process; ``Participant.participate`` is idempotent against chain
state (it returns early once this identity submitted in the open round), so restarting the
worker or running it twice does no harm.

    python -m workers.federated TASK_ID --data private.npz [--interval 10]
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from zkpot.config import get_settings

log = logging.getLogger("zkpot.workers.federated")


def run(task_id: int, data: Path, interval: float = 10.0, once: bool = False) -> None:
    from zkpot.chain import ChainClient, load_deployment
    from zkpot.datasets import load_csv, load_npz
    from zkpot.federated.chain import CONTRACT, FederatedTaskClient, TaskStatus
    from zkpot.federated.participant import participant_for_task
    from zkpot.node.identity import load_identity
    from zkpot.storage import open_store

    settings = get_settings()
    identity = load_identity(settings)
    client = ChainClient(settings.rpc_url, identity.account.key.to_0x_hex(), chain_id=settings.chain_id,
                         lock_dir=settings.path("locks"))
    task_client = FederatedTaskClient(client, load_deployment(settings).contracts[CONTRACT])
    raw = data.read_bytes()
    ds = load_npz(raw) if data.suffix == ".npz" else load_csv(raw)
    participant = participant_for_task(task_client, open_store(settings), settings, task_id,
                                       ds.features, ds.labels)
    while True:
        outcome = participant.participate(task_id)
        if outcome is not None:
            log.info("task %s round %s: proven %s (θ %s), accepted=%s %s", task_id, outcome.round,
                     outcome.proven_correct, outcome.threshold, outcome.accepted, outcome.refusal or "")
        if once or task_client.get_task(task_id).status != TaskStatus.ACTIVE:
            return
        time.sleep(interval)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task_id", type=int)
    parser.add_argument("--data", type=Path, required=True, help="private training data (CSV or NPZ)")
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between chain polls")
    parser.add_argument("--once", action="store_true", help="take part in the open round only")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    run(args.task_id, args.data, args.interval, args.once)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
