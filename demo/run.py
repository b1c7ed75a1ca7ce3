"""``make demo``: a delegated job end to end on a local chain, then a short federated round.

Starts Anvil, Redis, the API (dev mode) and three worker nodes on the project's ports, deploys
the contracts and the ezkl verifier, posts the job as an employer through the API, follows it
to the on-chain accuracy proof, withdraws, prints a report, and stops everything it started
(on Ctrl-C too; ``--keep-running`` leaves it up for the dashboard).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from contextlib import contextmanager
from urllib.parse import urlparse

from rich.console import Console

from zkpot.config import get_settings
from zkpot.jobs import DEFAULT_SHARD_SIZE
from demo.employer import ApiError, JobRequest, digits_subset_npz
from demo.follow import DemoTimeout
from demo.stack import FEDERATION_KEYS, CircuitChoice, DemoStack, PortInUse

# the demo job: the digits MLP preset, C=2, several stages (see docs/demo.md for the sizes)
# (a shard of 64 fills a 2^17-row circuit; each shard is one proof by its designated node)
DEMO_SHARD_SIZE = DEFAULT_SHARD_SIZE   # the dashboard's and the CLI's default too
DEMO_SAMPLES = 400          # digits subset uploaded: 320 train, 80 test (one shard of 64 proven)
DEMO_STAGE_FLOPS = 1_500_000   # ≈ 208 samples per stage: 7 stages over the preset's 4 epochs
# a shorter job on the same upload (the end-to-end test, `bench --quick`): 512 samples per
# stage, 3 stages, θ 0.7
SHORT_STAGE_FLOPS, SHORT_THETA = 3_650_000, 0.7


def demo_request(samples: int = DEMO_SAMPLES, stage_flops: int = DEMO_STAGE_FLOPS,
                 shard_size: int = DEMO_SHARD_SIZE, theta: float = 0.8) -> JobRequest:
    """The demo's job: the ``digits-mlp`` preset on a digits upload, C=2, small rewards."""
    from zkpot.spec import preset

    return JobRequest(spec=preset("digits-mlp").to_dict(), reward_per_declaration_wei=10**16,
                      quorum=2, theta=theta, stage_flops=stage_flops, shard_size=shard_size,
                      bounty_wei=2 * 10**16, dataset_npz=digits_subset_npz(samples))


@contextmanager
def native_output_to(path):
    """ezkl (Rust) prints its tables straight to fd 1 and 2: send them to a log meanwhile."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(path, "ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


def _port(url: str, variable: str) -> int:
    return int(os.environ.get(variable) or urlparse(url).port)


def federated_round(stack: DemoStack, say) -> tuple[list[str], int]:
    """Two short rounds of a Flower federation (simulation engine) on zkpot's strategy: honest
    participants beside a label flipper and a free-rider. Returns the report's lines and how
    many participant replies came back as errors (each is among the lines)."""
    try:
        from zkpot.federated.local import Behaviour
        from zkpot_flower.federation import FederationConfig, run_zkpot
    except ImportError as e:
        return [f"federated round skipped: the Flower integration is not installed here ({e})"], 0
    from zkpot.chain import ChainClient
    from zkpot.chain.clock import DevChainClock
    from zkpot.storage import open_store

    config = FederationConfig(participants=4, attackers=(Behaviour.label_flip, Behaviour.free_rider), rounds=2)
    say(f"federation: {config.rounds} Flower rounds, {config.participants} participants on private non-IID "
        "digits, one flips its labels, one resubmits the global model with a tweak; each proves its "
        "update's accuracy in zk and is paid only for what it certifiably improves on the global model; "
        f"each round a {config.commit_window_s} s commit phase and a {config.reveal_window_s} s reveal "
        "phase, whose idle rest the demo chain's clock skips")
    settings = stack.settings(stack.root / "federated")
    # the demo owns its chain: moving its clock over the phases' idle rest harms nobody
    report = run_zkpot(config, settings, stack.rpc_url, FEDERATION_KEYS[: config.participants + 1],
                       store=open_store(stack.settings()), clock=DevChainClock(ChainClient(stack.rpc_url)))
    names = {a: f"participant-{i} ({b.value})" for i, (a, b) in enumerate(report.labels.items(), 1)}
    paid = ", ".join(f"{names[a]} {c / 10**18:.4f} ETH" for a, c in report.credits.items())
    failures = sum(len(rep.failures) for rep in report.rounds)
    return (report.summary().splitlines() + [f"credited: {paid}", f"federation took {report.seconds:.0f} s"],
            failures)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep-running", action="store_true",
                        help="leave the chain, API and nodes up at the end (Ctrl-C stops them)")
    parser.add_argument("--no-federated", action="store_true", help="skip the federated round")
    parser.add_argument("--samples", type=int, default=DEMO_SAMPLES, help="digits samples uploaded")
    parser.add_argument("--stage-flops", type=int, default=DEMO_STAGE_FLOPS, help="work per stage (Δ)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait for each phase")
    args = parser.parse_args(argv)

    # the console keeps its own copy of stdout: ezkl's native output is diverted to a log
    console = Console(file=os.fdopen(os.dup(1), "w", buffering=1), highlight=False, soft_wrap=True,
                      force_terminal=sys.stdout.isatty() or None)
    started = time.monotonic()

    def say(text: str) -> None:
        console.print(f"[dim]{time.monotonic() - started:7.1f}s[/dim]  {text}")

    settings = get_settings()
    ezkl_log = settings.path("logs") / "demo-ezkl.log"
    stack = DemoStack(root=settings.state_dir / "demo", circuit_dir=settings.circuits_dir,
                      anvil_port=_port(settings.rpc_url, "ZKPOT_ANVIL_PORT"),
                      redis_port=_port(settings.redis_url, "ZKPOT_REDIS_PORT"),
                      api_port=int(os.environ.get("ZKPOT_API_PORT") or settings.api_port),
                      circuit=CircuitChoice("digits-mlp", DEMO_SHARD_SIZE), say=say)
    # SIGTERM stops the demo the way Ctrl-C does: everything started is stopped
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    console.rule("zkpot demo")
    say(f"dashboard: [bold]{stack.api_url}/[/bold] (served by the API once the contracts are "
        "deployed; open it to follow the job live)")
    try:
        stack.check_ports()
    except PortInUse as e:
        console.print(f"[red]cannot start the demo:[/red] {e}")
        return 2
    try:
        with console.status("starting the chain and Redis, deploying, setting up the zk circuit, "
                            "starting the API and the nodes…"), native_output_to(ezkl_log):
            stack.start()
        from demo.job import run_job

        with console.status("posting the job…") as status:
            outcome = run_job(stack, demo_request(args.samples, args.stage_flops), line=say,
                              status=status.update, timeout=args.timeout)
        console.rule("report")
        for text in outcome.report():
            console.print(text)
        if not args.no_federated:
            console.rule("federation")
            with console.status("federated round: setting up, training, proving…"), \
                    native_output_to(ezkl_log):
                lines, failures = federated_round(stack, say)
            for text in lines:      # a participant's error text is its own: printed, never markup
                console.print(text, markup=False)
            if failures:
                console.print(f"[red]demo failed:[/red] {failures} participant replies of the federation "
                              f"were errors (FAILED above)\nlogs: {stack.logs}")
                return 1
        console.rule()
        console.print(f"demo finished in {time.monotonic() - started:.0f} s"
                      + (f" (of which {stack.circuit_seconds:.0f} s one-time circuit setup)"
                         if stack.circuit_created else ""))
        if args.keep_running:
            console.print(f"still running: dashboard {stack.api_url}/, chain {stack.rpc_url}, "
                          f"logs {stack.logs}. Ctrl-C stops everything.")
            while True:
                time.sleep(1)
    except KeyboardInterrupt:
        console.print("\nstopping everything the demo started…")
    except (DemoTimeout, ApiError) as e:
        console.print(f"[red]demo failed:[/red] {e}\nlogs: {stack.logs} and {stack.root}/node*/logs")
        return 1
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # one stop at a time
        stack.stop()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    console.print("stopped.")
    return 0


__all__ = ["main", "demo_request", "federated_round"]
