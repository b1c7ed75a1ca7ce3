"""The ``zkpot`` command. ``zkpot node …`` runs a worker node; other groups register beside it.

A door: it parses, calls ``zkpot.node`` (and the workers' process group), and reports.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cli.console import configure_logging, console, fail, status
from zkpot.config import Settings, get_settings

app = typer.Typer(help="zkpot: verifiable ML training paid from escrow on an EVM chain.",
                  no_args_is_help=True)
node_app = typer.Typer(help="Run a worker node: key, stake, workers, status, rewards.",
                       no_args_is_help=True)
app.add_typer(node_app, name="node")
app.add_typer(__import__("cli.job", fromlist=["app"]).app, name="job")  # employer: cli/job.py
app.add_typer(__import__("cli.fl", fromlist=["app"]).app, name="fl")  # federated: cli/fl.py
app.add_typer(__import__("cli.dispute", fromlist=["app"]).app, name="dispute")  # disputes: cli/dispute.py



def _settings() -> Settings:
    return get_settings()


_fail = fail


def _chain_call(what: str, op):
    """Run a chain step of the node; a refusal or an unreachable chain is one line and exit 1."""
    from web3.exceptions import Web3Exception

    from zkpot.chain import ChainError, ContractError
    from zkpot.revert_reasons import explain

    try:
        return op()
    except ContractError as e:
        _fail(f"{what} refused by the contract: {explain(e)}")
    except ChainError as e:
        _fail(f"{what} failed: {e}")
    except Web3Exception as e:
        message = str(getattr(e, "message", "") or e)
        if "insufficient funds" in message.lower():
            _fail(f"{what} failed: the node's account cannot pay for it ({message})")
        _fail(f"{what} failed: {message}")


def _eth(wei: int) -> str:
    return f"{wei / 10**18:.6f} ETH"


@node_app.command("init")
def node_init(
    keystore: Annotated[Path | None, typer.Option(help="keystore file to write")] = None,
    import_key: Annotated[bool, typer.Option("--import-key",
                                             help="encrypt an existing key (prompted)")] = False,
    password: Annotated[str | None, typer.Option(envvar="ZKPOT_NODE_KEYSTORE_PASSWORD",
                                                 help="keystore password (prompted if unset)")] = None,
) -> None:
    """Create the node's key in an encrypted keystore file (mode 0600)."""
    from zkpot.node.identity import IdentityError, default_keystore_path, init_keystore

    settings = _settings()
    path = keystore or settings.node_keystore or default_keystore_path(settings)
    if password is None:
        password = typer.prompt("keystore password", hide_input=True, confirmation_prompt=True)
    key = typer.prompt("private key (hex)", hide_input=True) if import_key else None
    try:
        identity = init_keystore(path, password, key)
    except IdentityError as exc:
        _fail(str(exc))
    console.print(f"node address {identity.address}")
    console.print(f"keystore     {path}")
    console.print("run the node with:\n"
                  f"  export ZKPOT_NODE_KEYSTORE={path}\n"
                  "  export ZKPOT_NODE_KEYSTORE_PASSWORD=…   # or a secrets manager")


@node_app.command("address")
def node_address() -> None:
    """Print the configured node's address."""
    console.print(_node().identity.address)


def _node():
    from zkpot.node.identity import IdentityError
    from zkpot.node.work import Node

    try:
        return _chain_call("connecting to the chain", lambda: Node(_settings()))
    except IdentityError as exc:
        _fail(str(exc))
    except (OSError, ValueError) as exc:  # no deployment map, or one for another chain
        _fail(f"zkpot contracts are not deployed for {_settings().rpc_url}: {exc}")


@node_app.command("register")
def node_register(
    stake: Annotated[str, typer.Option(help="stake in ETH (at least the registry's minimum; "
                                            "0: the minimum)")] = "0",
) -> None:
    """Register this node with a stake (or top the stake up if already registered).

    Sends directly: run it before `zkpot node run`, not while the node's workers send.
    """
    from cli.job import parse_eth

    try:
        wei = parse_eth(stake)
    except typer.BadParameter as e:
        _fail(f"--stake: {e.message}")
    node = _node()
    with status("registering…"):
        result = _chain_call("register", lambda: node.register(wei or None))
    console.print(result)


@node_app.command("run")
def node_run(
    device: Annotated[str, typer.Option(help="auto, cpu or gpu")] = "auto",
    slots: Annotated[int, typer.Option(help="training/proving worker processes")] = 1,
    live: Annotated[bool, typer.Option(help="show live progress bars")] = True,
    log_format: Annotated[str | None, typer.Option(help="worker logs: text or json "
                                                        "(default ZKPOT_LOG_FORMAT, text)")] = None,
    metrics_port: Annotated[int | None, typer.Option(help="loopback port of /healthz and /metrics "
                                                          "(0: none; default ZKPOT_NODE_METRICS_PORT)")] = None,
) -> None:
    """Start the node's workers (chain watcher + sender, training/proving) until SIGTERM or Ctrl-C.

    A second run for the same identity refuses. On SIGTERM/SIGINT the workers get
    ZKPOT_NODE_STOP_GRACE_S (30 s) to finish the task in flight (docs/workers.md)."""
    from workers.supervisor import AlreadyRunning, BrokerUnusable, NodeRun

    node = _node()
    if device == "auto":
        from zkpot.node.work import best_device

        device = best_device()
    settings = _settings()
    env = dict(os.environ)
    if log_format is not None:
        if log_format not in ("text", "json"):
            _fail("--log-format: text or json")
        env["ZKPOT_LOG_FORMAT"] = log_format
    run = NodeRun(node, settings, env, device, slots, metrics_port)
    try:
        run.start()
    except AlreadyRunning as exc:
        _fail(f"node {node.identity.address} is already running here ({exc}); stop it first")
    except BrokerUnusable as exc:
        _fail(f"the node's Redis (ZKPOT_REDIS_URL) is not usable: {exc}")
    where = f"; health and metrics on {run.endpoint.url}" if run.endpoint else ""
    console.print(f"node {node.identity.address} running on {device}; logs in {settings.path('logs')}"
                  f"{where} (SIGTERM or Ctrl-C stops)")
    try:
        _watch(node, run, live)
    finally:
        console.print(f"stopping workers ({run.stopped_by or 'exit'}; up to "
                      f"{settings.node_stop_grace_s:g} s for the tasks in flight)…")
        run.stop()
        console.print("node stopped")


def _watch(node, run, live: bool) -> None:
    """Progress bars for the node's training and proving, read from its store."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    bars: dict[str, int] = {}
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/"
                  "{task.total}"), TextColumn("{task.fields[note]}"), TimeElapsedColumn(),
                  console=console, disable=not live) as progress:

        def tick() -> None:
            seen = set()
            for item in node.store.progress():
                seen.add(item.name)
                if item.name not in bars:
                    bars[item.name] = progress.add_task(f"{item.kind} {item.name}",
                                                        total=item.total, note="")
                progress.update(bars[item.name], completed=item.done, total=item.total,
                                note=item.note)
            for name in list(bars):
                if name not in seen:
                    progress.update(bars[name], completed=progress.tasks[bars[name]].total)
                    progress.stop_task(bars.pop(name))

        run.supervise(tick, on_restart=lambda dead: console.print(
            f"worker(s) {', '.join(dead)} stopped; restarting"))


@node_app.command("status")
def node_status() -> None:
    """Stake, credit, open jobs and stages, this node's pending secrets and rejected proofs."""
    node = _node()
    status = _chain_call("reading the node's state", node.status)
    console.print(f"node    {node.identity.address}")
    console.print(f"stake   {_eth(status.stake)} ({_eth(status.locked)} backing open declarations)   "
                  f"active: {status.active}")
    console.print(f"credit  {_eth(status.credit)} (withdraw with `zkpot node withdraw`)")
    e = status.earnings
    console.print(f"earned  {_eth(e.total)}: {_eth(e.rewards)} rewards for paid declarations, "
                  f"{_eth(e.bounties)} accuracy bounty shares; slashed {_eth(e.slashed)}")
    for line in node_activity(node):
        console.print(line, markup=False)
    table = Table("job", "stage", "state", "attempt", "phase", "declarations", "reward/declaration", "this node")
    for row in status.stages:
        table.add_row(str(row.job_id), str(row.stage), row.state, str(row.attempt + 1), row.phase,
                      f"{row.declarations}/{row.max_declarations}", _eth(row.reward), row.mine)
    console.print(table)
    if status.secrets:
        console.print("secrets kept until settled: " + ", ".join(
            f"job {s.job_id} stage {s.stage} attempt {s.attempt + 1} ({s.status})" for s in status.secrets))
    for kind, job_id, stage, reason in status.failures:
        console.print(f"failed, not retried: job {job_id} stage {stage} {kind}: {reason}", markup=False)
    for r in status.rejected_proofs:
        console.print(f"proof rejected by the chain, not resubmitted: job {r.job_id} shard "
                      f"{r.shard}: {r.reason}")


def node_activity(node) -> list[str]:
    """What the node's workers do now (step, job, stage, progress) and its last error."""
    import json

    lines = []
    progress = {p.name: p for p in node.store.progress()}
    for role, raw in sorted(node.store.items("doing:").items()):
        d = json.loads(raw)
        p = progress.get(f"job{d['job']}-stage{d['stage']}") or progress.get(f"job{d['job']}-proof")
        done = f", {p.done}/{p.total} samples" if p is not None and p.kind == "train" else \
            f", {p.done}/{p.total} shards" if p is not None else ""
        lines.append(f"now     {role.removeprefix('doing:')}: {d['step']} job {d['job']} stage {d['stage']} "
                     f"attempt {d['attempt'] + 1}{done} (for {int(time.time()) - d['since']} s)")
    if not lines:
        lines.append("now     idle (no step running)")
    last = node.store.get("last_error")
    if last:
        at, _, what = last.partition(" ")
        lines.append(f"last error {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(int(at)))} UTC: {what}")
    return lines


@node_app.command("withdraw")
def node_withdraw(
    direct: Annotated[bool, typer.Option(help="send from here (only when the node's workers "
                                              "are not running)")] = False,
    timeout: Annotated[float, typer.Option(help="seconds to wait for the chain worker")] = 120,
) -> None:
    """Withdraw this node's credit (rewards and released stake)."""
    node = _node()
    if direct:
        console.print(_chain_call("withdraw", node.withdraw))
        return
    # through the node's chain queue, so the one sender of this identity sends it
    _require_chain_worker(node)
    from celery.exceptions import TimeoutError as CeleryTimeout

    from workers.app import queues
    from workers.tasks.payments import withdraw

    result = withdraw.apply_async(queue=queues.chain)
    try:
        with status("waiting for the node's chain worker…"):
            console.print(result.get(timeout=timeout))
    except CeleryTimeout:
        result.revoke()
        _fail(f"the node's chain worker did not answer within {timeout:g} s; the withdrawal was "
              "withdrawn from its queue (see `zkpot node status`)")
    except Exception as e:  # the task itself failed: its reason, not a traceback
        _fail(f"withdraw failed in the node's chain worker: {type(e).__name__}: {e}")


def _require_chain_worker(node) -> None:
    """Fail in one line unless Redis answers and a worker consumes this node's chain queue."""
    import redis

    from workers.app import app as celery_app
    from workers.app import queues

    url = _settings().redis_url
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping()
    except redis.RedisError as e:
        _fail(f"Redis at {url} does not answer ({e}): the node's workers are not running; "
              "start them with `zkpot node run`, or use --direct")
    active = celery_app.control.inspect(timeout=2.0).active_queues() or {}
    if not any(q.get("name") == queues.chain for qs in active.values() for q in qs):
        _fail(f"no chain worker of node {node.identity.address} is running: start it with "
              "`zkpot node run`, or withdraw with --direct")


def main() -> None:
    """The ``zkpot`` command: an unexpected error is one line (ZKPOT_DEBUG=1 shows the traceback)."""
    configure_logging()
    # SIGTERM (timeout, docker stop, a cancelled CI job) unwinds like Ctrl-C, so what a command
    # started (a demo's Anvil) is stopped by its context manager, not left running (found by an
    # attack); `zkpot node run` installs its own graceful handler over this one
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        app()
    except SystemExit:
        raise
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as e:
        if os.environ.get("ZKPOT_DEBUG"):
            raise
        console.print(f"error: {type(e).__name__}: {e} (ZKPOT_DEBUG=1 shows where)")
        sys.exit(1)


if __name__ == "__main__":
    main()
