"""``zkpot fl …``: federated mode. Employer: deploy, keygen, create, updates, close, refund.
Participant: participate (one round on private data), withdraw. And a local demo federation.

A door over ``zkpot.federated``; the employer signs with ``ZKPOT_EMPLOYER_KEY``, a participant
with its node key (``ZKPOT_NODE_KEY`` / keystore).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from zkpot.cli_console import console, fail  # plain text: strings from the chain are not markup
from zkpot.config import Settings, get_settings

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
    client = ChainClient(settings.rpc_url, key, chain_id=settings.chain_id, lock_dir=settings.path("locks"))
    try:
        deployment = load_deployment(settings)
        return FederatedTaskClient(client, deployment.contracts[CONTRACT])
    except (FileNotFoundError, KeyError):
        _fail("no FederatedTask in the deployment map; run `zkpot fl deploy`")


def _existing_task(task_client, task_id: int):
    """The task's view, or a clear error when no task has this id."""
    from zkpot.federated.chain import TaskStatus

    task = task_client.get_task(task_id)
    if task.status == TaskStatus.NONE:
        _fail(f"task {task_id}: no such task on FederatedTask {task_client.address}")
    return task


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
    client = ChainClient(settings.rpc_url, settings.employer_key.get_secret_value(),
                         chain_id=settings.chain_id, lock_dir=settings.path("locks"))
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
    rounds: Annotated[int, typer.Option()] = 2,
    max_updates: Annotated[int, typer.Option(help="accepted updates per round at most")] = 8,
    reward_wei: Annotated[int, typer.Option(help="reward for an update right on every sample")] = 10**15,
    deadline_hours: Annotated[float, typer.Option()] = 24.0,
    verifier: Annotated[str | None, typer.Option(help="deployed accuracy verifier (else deployed)")] = None,
) -> None:
    """Create a task: commit and store the test set and the initial model, escrow the rewards."""
    import numpy as np

    from zkpot import zk
    from zkpot.datasets import demo_dataset
    from zkpot.federated.employer import Employer
    from zkpot.spec import build_model, preset as load_preset
    from zkpot.storage import open_store
    from zkpot.zk.evm import deploy_accuracy_verifier
    from zkpot.zk.presets import PRESET_SHAPES

    settings = get_settings()
    task_client = _task_client(settings, employer=True)
    spec = load_preset(preset)
    input_shape, classes = PRESET_SHAPES[preset]
    circuit = zk.ensure_circuit(build_model(spec), input_shape, classes, shard_size, settings)
    ds = demo_dataset(dataset)
    order = np.random.default_rng(int(time.time())).permutation(len(ds))[:shard_size * shards]
    employer = Employer(task_client, open_store(settings), circuit, lambda: build_model(spec), _load_keys(key_file))
    address = verifier or deploy_accuracy_verifier(task_client.client, circuit)
    task_id = employer.create_task(
        spec, ds.subset(np.sort(order)), threshold=max(1, round(threshold * shard_size * shards)),
        rounds=rounds, max_updates_per_round=max_updates, reward_per_update=reward_wei,
        deadline=int(time.time() + deadline_hours * 3600), verifier=address)
    console.print(f"task {task_id} created (verifier {address})")


@app.command("status")
def status(task_id: int) -> None:
    """The task's state, its round, the accepted updates and the unrevealed commitments (events)."""
    from zkpot.federated.chain import TaskStatus

    task_client = _task_client(get_settings(), employer=None)
    task = _existing_task(task_client, task_id)
    console.print(f"task {task_id}: {task.status.name}, round {task.round}/{task.rounds}, θ {task.threshold}/"
                  f"{task.samples}, escrow held {task.escrow} wei")
    table = Table("participant", "commitment", "proven", "reward (wei)", "cid")
    for u in task_client.accepted_updates(task_id, min(task.round, task.rounds - 1)):
        table.add_row(u.participant, hex(u.model_commitment)[:14] + "…", str(u.correct_count), str(u.reward), u.cid)
    console.print(table)
    if task.status == TaskStatus.ACTIVE:
        waiting = task_client.unrevealed_commitments(task_id, task.round)
        # closing the round now would cut these participants' reveals off
        console.print(f"commitments awaiting their reveal in round {task.round}: {len(waiting)}")


@app.command("close")
def close(task_id: int, key_file: Annotated[Path, typer.Option(help="the employer's X25519 key")]) -> None:
    """Decrypt and check the round's updates, aggregate by FedAvg, publish the next global model."""
    from zkpot import zk
    from zkpot.federated.employer import Employer
    from zkpot.federated.participant import fetch_manifest
    from zkpot.storage import open_store

    settings = get_settings()
    task_client = _task_client(settings, employer=True)
    _existing_task(task_client, task_id)
    store = open_store(settings)
    manifest = fetch_manifest(task_client, store, task_id)
    factory = manifest.model_factory()
    circuit = zk.ensure_circuit(factory(), manifest.input_shape, manifest.num_classes, manifest.shard_size, settings)
    result = Employer(task_client, store, circuit, factory, _load_keys(key_file)).close_round(task_id)
    for r in result.reviewed:
        verdict = "aggregated" if r.usable else f"rejected: {r.rejection}"
        console.print(f"{r.accepted.participant} proven {r.accepted.correct_count}: {verdict}")
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
    """Train the open round's global model on private data, prove, encrypt, store, commit, submit."""
    from zkpot.datasets import DatasetError, load_csv, load_npz
    from zkpot.federated.participant import participant_for_task
    from zkpot.storage import open_store

    settings = get_settings()
    try:
        raw = data.read_bytes()
        ds = load_npz(raw) if data.suffix == ".npz" else load_csv(raw)
    except (OSError, DatasetError) as exc:
        _fail(f"cannot read --data {data}: {exc}")
    task_client = _task_client(settings, employer=False)
    _existing_task(task_client, task_id)
    participant = participant_for_task(task_client, open_store(settings), settings, task_id, ds.features, ds.labels)
    outcome = participant.participate(task_id)
    if outcome is None:
        console.print("nothing to do: already submitted in the open round, or the task is closed")
    elif outcome.accepted:
        console.print(f"accepted: proven {outcome.proven_correct} ≥ θ {outcome.threshold}, update {outcome.cid} "
                      f"(gas: commit {outcome.commit_gas_used}, submit {outcome.gas_used})")
    elif outcome.refusal and outcome.proven_correct >= outcome.threshold:
        console.print(f"not accepted: proven {outcome.proven_correct} ≥ θ {outcome.threshold}, "
                      f"refused: {outcome.refusal}")
    else:
        console.print(f"not accepted: proven {outcome.proven_correct} < θ {outcome.threshold} {outcome.refusal or ''}")


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
    participants: Annotated[int, typer.Option()] = 4,
    rounds: Annotated[int, typer.Option()] = 2,
    alpha: Annotated[float, typer.Option(help="Dirichlet label skew")] = 1.0,
) -> None:
    """A federation on a local Anvil: two attackers among honest participants, vs plain FedAvg."""
    from zkpot.devnet import Anvil, dev_private_keys
    from zkpot.federated.federation import FederationConfig, run_federation

    settings = get_settings()
    config = FederationConfig(participants=participants, rounds=rounds, alpha=alpha)
    with Anvil(log_dir=settings.path("logs")) as chain:
        report = run_federation(config, settings, chain.rpc_url, dev_private_keys(participants + 1))
    console.print(report.summary())
