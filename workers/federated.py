"""Participant worker mode: follow a federated task and take part in every round it opens.

A thin loop over ``zkpot.federated``: the participant's private data is read from a local
file and never leaves this process. Each round runs in its phases on chain time:
``Participant.participate`` commits in the round's commit phase, waits for its reveal phase and
reveals; a round met after its commit phase is left for the next. It is idempotent against
chain state and its own earlier turns (it returns early once this identity submitted, or took
its turn, in the open round), so restarting the worker or running it twice does no harm; a
worker restarted between its commitment and its reveal has lost the update and waits for the
next round.

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
    """Take part in every round of ``task_id`` until the task closes (``once``: the open round)."""
    from zkpot.chain import ChainClient, load_deployment
    from zkpot.chain.clock import LiveChainClock
    from zkpot.datasets import load_csv, load_npz
    from zkpot.federated.chain import CONTRACT, FederatedTaskClient, TaskStatus
    from zkpot.federated.participant import RoundSkipped, participant_for_task
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
    clock = LiveChainClock(client)
    last = None
    while True:
        result = participant.participate(task_id, clock)
        if isinstance(result, RoundSkipped):
            if (result.round, result.reason) != last:  # said once per round and reason, not per poll
                log.info("task %s round %s: nothing to do (%s; %s phase, %s s left)", task_id, result.round,
                         result.reason.value, result.phase.value if result.phase else "no", result.seconds_left)
                last = (result.round, result.reason)
        else:
            log.info("task %s round %s: proven %s (θ %s), accepted=%s %s", task_id, result.round,
                     result.proven_correct, result.threshold, result.accepted, result.refusal or "")
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
