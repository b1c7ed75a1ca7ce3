"""``zkpot fl …``: federated mode. Employer: deploy, keygen, create, status, close, refund.
Participant: participate (one round on private data, outside a Flower federation), withdraw.
And a local demo federation on Flower's simulation engine.

A door over ``zkpot.federated`` (and ``zkpot_flower`` for the demo); the employer signs with
``ZKPOT_EMPLOYER_KEY``, a participant with its node key (``ZKPOT_NODE_KEY`` / keystore).
Rounds run in fixed phases by chain time: ``participate`` commits in the commit phase and
waits for the reveal phase to reveal, ``close`` is refused until the reveal phase is over.
In a Flower federation the strategy drives the same steps (docs/federated.md).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from cli.console import console, fail  # plain text: strings from the chain are not markup
from zkpot.config import Settings, get_settings
from zkpot.federated.phases import COMMIT_WINDOW_S, REVEAL_WINDOW_S

if TYPE_CHECKING:
    from zkpot.chain import ChainClient
    from zkpot.chain.clock import ChainClock

app = typer.Typer(help="Federated training: proven updates from private data, paid from escrow.",
                  no_args_is_help=True)


def _fail(message: str) -> None:
    fail(message)


def _task_client(settings: Settings, employer: bool | None):
    """A FederatedTask client signing as the employer, the node, or (None) read-only."""
    from zkpot.chain import ChainClient, load_deployment
    from zkpot.federated.chain import CONTRACT, FederatedTaskClient

    key = None
    if employer:
        if settings.employer_key is None:
            _fail("set ZKPOT_EMPLOYER_KEY")
        key = settings.employer_key.get_secret_value()
    elif employer is False:  # the node's identity: env key or keystore
        from zkpot.node.identity import IdentityError, load_identity

        try:
            key = load_identity(settings).account.key.to_0x_hex()
        except IdentityError as exc:
            _fail(str(exc))
    client = ChainClient.from_settings(settings, key)
    try:
        deployment = load_deployment(settings)
        return FederatedTaskClient(client, deployment.contracts[CONTRACT])
    except (FileNotFoundError, KeyError):
        _fail("no FederatedTask in the deployment map; run `zkpot fl deploy`")
    except ValueError as exc:
        _fail(str(exc))


def _existing_task(task_client, task_id: int):
    """The task's view, or a clear error when no task has this id."""
    from zkpot.federated.chain import TaskStatus

    task = task_client.get_task(task_id)
    if task.status == TaskStatus.NONE:
        _fail(f"task {task_id}: no such task on FederatedTask {task_client.address}")
    return task


def chain_clock(client: "ChainClient") -> "ChainClock":
    """The clock ``participate`` waits on: the chain's own time."""
    from zkpot.chain.clock import LiveChainClock

    return LiveChainClock(client)


class _SayingClock:
    """A clock that says what it waits for before it waits."""

    def __init__(self, inner: "ChainClock", what: str):
        self.inner, self.what = inner, what

    def now(self) -> int:
        return self.inner.now()

    def wait_until(self, when: int) -> int:
        left = when - self.inner.now()
        if left > 0:
            console.print(f"waiting {left} s (chain time {when}) for {self.what}")
        return self.inner.wait_until(when)


def _load_keys(path: Path):
    from zkpot.federated.crypto import EncryptionKeyPair

    return EncryptionKeyPair.from_private(bytes.fromhex(path.read_text().strip()))


@app.command("deploy")
def deploy() -> None:
    """Deploy FederatedTask and add it to the deployment map (employer key signs)."""
    from zkpot.chain import ChainClient, Deployment
    from zkpot.federated.chain import CONTRACT, FederatedTaskClient

    settings = get_settings()
    if settings.employer_key is None:
        _fail("set ZKPOT_EMPLOYER_KEY")
    client = ChainClient.from_settings(settings, settings.employer_key.get_secret_value())
    deployment = Deployment(chain_id=client.chain_id, block=client.block_number())
    task = FederatedTaskClient.deploy(client, deployment)
    deployment.save(settings.deployment_path)
    console.print(f"{CONTRACT} at {task.address} ({settings.deployment_path})")


@app.command("keygen")
def keygen(out: Annotated[Path, typer.Argument(help="file for the X25519 private key (mode 0600)")]) -> None:
    """Make the employer's update-encryption key pair; prints the public key for the task."""
    from zkpot.federated.crypto import EncryptionKeyPair

    if out.exists():
        _fail(f"{out} exists; not overwriting a key")
    keys = EncryptionKeyPair.generate()
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(keys.private.hex() + "\n")
    console.print(f"public key 0x{keys.public.hex()}")


@app.command("create")
def create(
    key_file: Annotated[Path, typer.Option(help="the employer's X25519 key (zkpot fl keygen)")],
    preset: Annotated[str, typer.Option(help="model spec preset")] = "digits-mlp",
    dataset: Annotated[str, typer.Option(help="bundled dataset the test set is drawn from")] = "digits",
    shard_size: Annotated[int, typer.Option(help="circuit N: samples per proof")] = 16,
    shards: Annotated[int, typer.Option(help="test-set shards")] = 2,
    threshold: Annotated[float, typer.Option(help="θ: fraction of the test set to classify right")] = 0.4,
    margin: Annotated[int, typer.Option(help="samples an update must gain over the round's global model")] = 1,
    rounds: Annotated[int, typer.Option()] = 2,
    max_updates: Annotated[int, typer.Option(help="accepted updates per round at most")] = 8,
    reward_wei: Annotated[int, typer.Option(help="reward for an update right on every sample")] = 10**15,
    deadline_hours: Annotated[float, typer.Option()] = 24.0,
    verifier: Annotated[str | None, typer.Option(help="deployed accuracy verifier (else deployed)")] = None,
    commit_window: Annotated[int, typer.Option(help="seconds of each round's commit phase (train, prove, "
                                                    "commit)")] = COMMIT_WINDOW_S,
    reveal_window: Annotated[int, typer.Option(help="seconds of each round's reveal phase")] = REVEAL_WINDOW_S,
) -> None:
    """Create a task: commit and store the test set and the initial model, escrow the rewards."""
    import numpy as np

    from zkpot.chain.clock import chain_time
    from zkpot.datasets import demo_dataset
    from zkpot.federated.employer import Employer
    from zkpot.federated.manifest import update_circuit
    from zkpot.spec import build_model, preset as load_preset
    from zkpot.storage import open_store
    from zkpot.zk.evm import deploy_accuracy_verifier
    from zkpot.zk.presets import PRESET_SHAPES

    settings = get_settings()
    task_client = _task_client(settings, employer=True)
    spec = load_preset(preset)
    input_shape, classes = PRESET_SHAPES[preset]
    circuit = update_circuit(spec, input_shape, classes, shard_size, settings)
    ds = demo_dataset(dataset)
    order = np.random.default_rng(int(time.time())).permutation(len(ds))[:shard_size * shards]
    employer = Employer(task_client, open_store(settings), circuit, lambda: build_model(spec), _load_keys(key_file))
    address = verifier or deploy_accuracy_verifier(task_client.client, circuit)
    task_id = employer.create_task(
        spec, ds.subset(np.sort(order)), threshold=max(1, round(threshold * shard_size * shards)),
        rounds=rounds, max_updates_per_round=max_updates, reward_per_update=reward_wei,
        deadline=chain_time(task_client.client) + int(deadline_hours * 3600), verifier=address,
        commit_window=commit_window, reveal_window=reveal_window, min_improvement=margin)
    console.print(f"task {task_id} created (verifier {address}); round 0: commit phase "
                  f"{commit_window} s, reveal phase {reveal_window} s")


@app.command("status")
def status(task_id: int) -> None:
    """The task's state, its round, the accepted updates and the unrevealed commitments (events)."""
    from zkpot.federated.chain import TaskStatus

    task_client = _task_client(get_settings(), employer=None)
    task = _existing_task(task_client, task_id)
    console.print(f"task {task_id}: {task.status.name}, round {task.round}/{task.rounds}, θ {task.threshold}/"
                  f"{task.samples}, escrow held {task.escrow} wei")
    if task.status == TaskStatus.ACTIVE:
        console.print(f"round {task.round}'s global model is certified "
                      f"{task_client.baseline_count(task_id, task.round)}/{task.samples}: an update must gain "
                      f"{task.min_improvement} more to be paid")
    table = Table("participant", "commitment", "proven", "reward (wei)", "cid")
    for u in task_client.accepted_updates(task_id, min(task.round, task.rounds - 1)):
        table.add_row(u.participant, hex(u.model_commitment)[:14] + "…", str(u.correct_count), str(u.reward), u.cid)
    console.print(table)
    if task.status == TaskStatus.ACTIVE:
        console.print(_phase_line(task_client, task_id, task.round))
        waiting = task_client.unrevealed_commitments(task_id, task.round)
        console.print(f"commitments awaiting their reveal in round {task.round}: {len(waiting)}")


def _phase_line(task_client, task_id: int, round_: int) -> str:
    """Which phase the open round is in, and for how long (chain time)."""
    from zkpot.chain.clock import chain_time
    from zkpot.federated.phases import RoundPhase

    phases = task_client.round_phases(task_id)
    now = chain_time(task_client.client)
    phase = phases.phase_at(now)
    if phase is RoundPhase.commit:
        return (f"round {round_}: commit phase, {phases.seconds_left(now)} s left (reveal phase from chain "
                f"time {phases.commit_end} to {phases.reveal_end})")
    if phase is RoundPhase.reveal:
        return f"round {round_}: reveal phase, {phases.seconds_left(now)} s left (closable from {phases.reveal_end})"
    return f"round {round_}: reveal phase over since chain time {phases.reveal_end}: the employer may close it"


@app.command("close")
def close(task_id: int, key_file: Annotated[Path, typer.Option(help="the employer's X25519 key")]) -> None:
    """Decrypt and check the round's updates, aggregate by FedAvg, publish the next global model."""
    from zkpot.federated.employer import Employer, TaskNotActive
    from zkpot.federated.participant import fetch_manifest
    from zkpot.federated.phases import RoundNotOver
    from zkpot.storage import open_store

    settings = get_settings()
    task_client = _task_client(settings, employer=True)
    _existing_task(task_client, task_id)
    store = open_store(settings)
    manifest = fetch_manifest(task_client, store, task_id)
    factory = manifest.model_factory()
    try:
        result = Employer(task_client, store, manifest.circuit(settings), factory,
                          _load_keys(key_file)).close_round(task_id)
    except RoundNotOver as exc:
        _fail(f"round {exc.round} is not over: its reveal phase ends in {exc.seconds_left} s "
              f"(chain time {exc.reveal_end}); participants may still reveal until then")
    except TaskNotActive as exc:
        _fail(str(exc))
    for r in result.reviewed:
        verdict = "aggregated" if r.usable else f"rejected: {r.rejection}"
        console.print(f"{r.accepted.participant} proven {r.accepted.correct_count}: {verdict}")
    if result.regressed is not None:
        console.print(f"the aggregate proved {result.regressed}, fewer than the round's global model's "
                      f"{result.model_correct}: that model is kept")
    console.print(f"round {result.round} closed: model {result.model_cid}")


@app.command("refund")
def refund(task_id: int) -> None:
    """After the deadline, credit the unearned escrow back to the employer."""
    _task_client(get_settings(), employer=True).refund(task_id)
    console.print("refunded; withdraw with `zkpot fl withdraw --employer`")


@app.command("participate")
def participate(
    task_id: int,
    data: Annotated[Path, typer.Option(help="private training data (CSV or NPZ); never uploaded")],
) -> None:
    """Take part in the open round: train on private data, prove, encrypt, store and commit in
    its commit phase, then wait for its reveal phase (chain time) and submit."""
    from zkpot.datasets import DatasetError, load_csv, load_npz
    from zkpot.federated.local import Behaviour, LocalTraining, train_fn
    from zkpot.federated.participant import RoundSkipped, participant_for_task
    from zkpot.storage import open_store

    settings = get_settings()
    try:
        raw = data.read_bytes()
        ds = load_npz(raw) if data.suffix == ".npz" else load_csv(raw)
    except (OSError, DatasetError) as exc:
        _fail(f"cannot read --data {data}: {exc}")
    task_client = _task_client(settings, employer=False)
    _existing_task(task_client, task_id)
    participant = participant_for_task(task_client, open_store(settings), settings, task_id)
    clock = _SayingClock(chain_clock(task_client.client), "the round's reveal phase")
    train = train_fn(Behaviour.honest, participant.model_factory, ds.features, ds.labels,
                     participant.circuit.num_classes, LocalTraining())
    outcome = participant.participate(task_id, train, clock)
    if isinstance(outcome, RoundSkipped):
        console.print(f"nothing to do: {_skip_text(outcome)}")
        return
    for refusal in outcome.reveal_retries:
        console.print(f"reveal refused as early ({refusal}): retried in the reveal phase")
    if outcome.accepted:
        console.print(f"accepted: proven {outcome.proven_correct} ≥ θ {outcome.threshold}, over the global model's "
                      f"{outcome.baseline}: paid {outcome.reward} wei, update {outcome.cid} "
                      f"(gas: commit {outcome.commit_gas_used}, submit {outcome.gas_used})")
    elif outcome.refusal and outcome.proven_correct >= outcome.threshold:
        console.print(f"not accepted: proven {outcome.proven_correct} ≥ θ {outcome.threshold}, global model "
                      f"{outcome.baseline}: {outcome.refusal}")
    else:
        console.print(f"not accepted: proven {outcome.proven_correct} < θ {outcome.threshold} {outcome.refusal or ''}")


def _skip_text(skipped) -> str:
    """Why ``participate`` did nothing, and where the round stands."""
    from zkpot.federated.participant import SkipReason
    from zkpot.federated.phases import RoundPhase

    r = skipped.round
    if skipped.reason is SkipReason.commit_phase_over:
        if skipped.phase is RoundPhase.reveal:
            return (f"round {r} is in its reveal phase ({skipped.seconds_left} s left): too late to commit; "
                    f"join round {r + 1}")
        return f"round {r}'s reveal phase is over (the employer closes it next): join round {r + 1}"
    return {SkipReason.task_closed: "the task is closed",
            SkipReason.submitted: f"already submitted in round {r}",
            SkipReason.handled: f"already took part in round {r}"}[skipped.reason]


@app.command("withdraw")
def withdraw(employer: Annotated[bool, typer.Option(help="withdraw as the employer")] = False) -> None:
    """Withdraw this identity's credited rewards (or refund)."""
    task_client = _task_client(get_settings(), employer=employer)
    credit = task_client.credit_of(task_client.client.address)
    if credit == 0:
        _fail("nothing to withdraw")
    task_client.withdraw()
    console.print(f"withdrew {credit} wei")


@app.command("demo")
def demo(
    participants: Annotated[int, typer.Option()] = 8,
    rounds: Annotated[int, typer.Option()] = 2,
    alpha: Annotated[float, typer.Option(help="Dirichlet label skew")] = 0.5,
    commit_window: Annotated[int, typer.Option(help="seconds of each commit phase")] = 1800,
    reveal_window: Annotated[int, typer.Option(help="seconds of each reveal phase")] = 300,
    fast_forward: Annotated[bool, typer.Option(help="move the demo chain's clock over each phase's idle "
                                                    "rest instead of waiting it out")] = True,
) -> None:
    """A Flower federation (simulation engine) on a local Anvil: attackers and free-riders among
    honest participants, zkpot's strategy paying only certified improvement."""
    from zkpot.chain import ChainClient
    from zkpot.chain.clock import DevChainClock
    from zkpot.devnet import Anvil, dev_private_keys
    from zkpot_flower.federation import FederationConfig, run_zkpot

    settings = get_settings()
    config = FederationConfig(participants=participants, rounds=rounds, alpha=alpha,
                              commit_window_s=commit_window, reveal_window_s=reveal_window)
    console.print(f"each round: a {commit_window} s commit phase, then a {reveal_window} s reveal "
                  f"phase{' (idle time skipped on the demo chain)' if fast_forward else ''}")
    with Anvil(log_dir=settings.path("logs")) as chain:
        clock = DevChainClock(ChainClient(chain.rpc_url)) if fast_forward else None
        report = run_zkpot(config, settings, chain.rpc_url, dev_private_keys(participants + 1), clock=clock)
    console.print(report.summary())
