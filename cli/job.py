"""``zkpot job …``: the employer's commands — create a job, follow it, publish its test set,
reclaim unearned escrow. A door over ``zkpot.jobs`` and the chain client; it signs with
``ZKPOT_EMPLOYER_KEY``.
"""

from __future__ import annotations

import json
import re
import time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cli.console import console, fail, status as progress_status
from zkpot.config import Settings, get_settings
from zkpot.jobs import DEFAULT_SHARD_SIZE, DEFAULT_STAGE_FLOPS

app = typer.Typer(help="Employer: create a job, follow it, publish its test set, reclaim.",
                  no_args_is_help=True)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_fail = fail


def _refused(what: str, e: Exception) -> None:
    """A failed transaction in one line: the contract's decoded reason, or the chain's."""
    from zkpot.chain import ContractError
    from zkpot.revert_reasons import explain

    if isinstance(e, ContractError):
        _fail(f"{what} refused by the contract: {explain(e)}")
    message = str(getattr(e, "message", "") or e)
    if "insufficient funds" in message.lower():
        _fail(f"{what} failed: the employer's account cannot pay for it ({message})")
    _fail(f"{what} failed: {message}")


def _settings() -> Settings:
    return get_settings()


def _eth(wei: int) -> str:
    return f"{Decimal(wei) / 10**18:f} ETH"


def parse_eth(text: str) -> int:
    """'0.01' (ETH) → wei; a clear error otherwise."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise typer.BadParameter(f"{text!r} is not an amount of ETH") from None
    if not value.is_finite():
        raise typer.BadParameter(f"{text!r} is not an amount of ETH")
    if value < 0:
        raise typer.BadParameter(f"{text!r} is negative")
    wei = value * 10**18
    if wei != wei.to_integral_value():
        raise typer.BadParameter(f"{text!r} is not a whole number of wei")
    return int(wei)


def parse_duration(text: str) -> int:
    """'3600', '90m', '24h', '7d' → seconds."""
    m = _DURATION.match(text)
    if not m:
        raise typer.BadParameter(f"{text!r} is not a duration like 3600, 90m, 24h or 7d")
    return int(float(m.group(1)) * _UNITS[m.group(2)])


def _escrow(settings: Settings, signing: bool = True):
    """The JobEscrow client, signing as the employer key when ``signing``; fails in one line
    when the key is not one, the chain does not answer or zkpot is not deployed there."""
    from zkpot.chain import ChainClient, ChainError, JobEscrowClient, load_deployment

    key = None
    if signing:
        if settings.employer_key is None:
            _fail("set ZKPOT_EMPLOYER_KEY to the employer's private key (hex) to send transactions")
        key = settings.employer_key.get_secret_value().strip()
    try:
        deployment = load_deployment(settings)
    except (OSError, ValueError) as e:
        _fail(f"zkpot contracts are not deployed for {settings.rpc_url}: {e}")
    try:
        client = ChainClient.from_settings(settings, key, read_only=key is None, retries=1)
    except ChainError as e:
        from zkpot.revert_reasons import unreachable

        _fail(f"the chain at {settings.rpc_url} does not answer ({unreachable(e)})")
    except Exception:  # eth_account's errors for a malformed key name no field; the key is not shown
        _fail("ZKPOT_EMPLOYER_KEY is not a private key (32 bytes as 64 hex digits, 0x optional)")
    return JobEscrowClient(client, deployment.escrow), deployment


def _load_data(demo: str | None, data: Path | None):
    from zkpot import datasets

    if (demo is None) == (data is None):
        _fail("give exactly one of --demo NAME or --data FILE")
    try:
        if demo is not None:
            return datasets.demo_dataset(demo)
        raw = data.read_bytes()
        is_npz = data.suffix.lower() == ".npz" or raw[:4] == b"PK\x03\x04"
        return datasets.load_npz(raw) if is_npz else datasets.load_csv(raw)
    except OSError as e:
        _fail(f"cannot read {data}: {e.strerror or e}")
    except datasets.DatasetError as e:
        _fail(f"dataset: {e}")


def _load_spec(spec: Path | None, preset: str | None):
    from zkpot.spec import ModelSpec, SpecError
    from zkpot.spec import preset as named

    if (spec is None) == (preset is None):
        _fail("give exactly one of --spec FILE or --preset NAME")
    try:
        if preset is not None:
            return named(preset)
        return ModelSpec.from_json(json.loads(spec.read_text()))
    except OSError as e:
        _fail(f"cannot read {spec}: {e.strerror or e}")
    except (ValueError, KeyError, SpecError) as e:
        _fail(f"spec: {e}")


@app.command("create")
def create(
    reward: Annotated[str, typer.Option(help="ETH per confirmed declaration, e.g. 0.01")],
    demo: Annotated[str | None, typer.Option(help="bundled dataset: digits, digits-images, wine")] = None,
    data: Annotated[Path | None, typer.Option(help="CSV or NPZ dataset file")] = None,
    spec: Annotated[Path | None, typer.Option(help="model spec JSON file")] = None,
    preset: Annotated[str | None, typer.Option(help="spec preset: digits-mlp, digits-cnn, wine-mlp")] = None,
    confirmations: Annotated[int, typer.Option(min=1, max=32, help="C: agreeing openings per stage (its paid declarations)")] = 2,
    threshold: Annotated[float, typer.Option(min=0.0, max=1.0, help="accuracy threshold θ")] = 0.8,
    deadline: Annotated[str, typer.Option(help="time to finish: 3600, 90m, 24h, 7d")] = "24h",
    bounty: Annotated[str, typer.Option(help="ETH paid for the accepted accuracy proof")] = "0",
    stage_flops: Annotated[int, typer.Option(min=10**3, help="target training FLOPs per stage (Δ)")]
    = DEFAULT_STAGE_FLOPS,
    shard_size: Annotated[int, typer.Option(min=1, max=256, help="test samples per proof shard (N)")]
    = DEFAULT_SHARD_SIZE,
    commit_window: Annotated[str, typer.Option(help="a stage attempt's commit phase: 10m, 600 (at least 60 s)")]
    = "10m",
    reveal_window: Annotated[str, typer.Option(help="a stage attempt's reveal phase (at least 60 s)")] = "10m",
) -> None:
    """Validate and chunk the data, store chunks and manifest, keep the test set private, escrow."""
    from web3.exceptions import Web3Exception

    from zkpot.chain import ChainError
    from zkpot.escrow_preflight import EscrowPreflight
    from zkpot.jobs import JobError, JobTerms, discard_job, prepare_job

    settings = _settings()
    escrow, _ = _escrow(settings)
    employer = escrow.client.address
    preflight = EscrowPreflight(settings, employer)
    try:  # before any work: the chain answers and zkpot is deployed there
        preflight.connect()
    except JobError as e:
        _fail(str(e))
    dataset, model = _load_data(demo, data), _load_spec(spec, preset)
    terms = JobTerms(reward_per_declaration=parse_eth(reward), quorum=confirmations, theta=threshold,
                     deadline=escrow.client.chain_time() + parse_duration(deadline), bounty=parse_eth(bounty),
                     stage_flops=stage_flops, shard_size=shard_size, commit_window=parse_duration(commit_window),
                     reveal_window=parse_duration(reveal_window))
    try:
        with progress_status("preparing the job…"):
            prepared = prepare_job(settings, dataset, model, terms, employer, preflight,
                                   progress=console.print)
    except JobError as e:
        _fail(str(e))
    try:
        with progress_status(f"escrowing {_eth(prepared.params.escrow)}…"):
            job_id = escrow.create_job(prepared.params)
    except (ChainError, Web3Exception) as e:
        discard_job(settings, prepared)
        _refused("createJob", e)
    console.print(f"job {job_id} created: {prepared.params.stages} stages, "
                  f"C = {terms.quorum}, escrow {_eth(prepared.params.escrow)}")
    console.print(f"manifest {prepared.manifest_cid} (0x{prepared.manifest_hash.hex()})")
    console.print(f"test set kept privately in {prepared.private.folder}; publish it with "
                  f"`zkpot job publish-test-set {job_id}` once the last stage is final")


@app.command("status")
def status(job_id: Annotated[int, typer.Argument(min=0, help="on-chain job id")]) -> None:
    """The job as the chain shows it: status, stages, payments, test set, deadlines, what next."""
    from zkpot import testsets
    from zkpot.chain import ChainError, JobStatus, fetch_events
    from zkpot.jobs import TestSetNotHeld
    from zkpot.lifecycle import lifecycle

    settings = _settings()
    escrow, deployment = _escrow(settings, signing=False)
    try:
        job = escrow.get_job(job_id)
        if job.status == JobStatus.NONE:
            _fail(f"no job {job_id} on this chain")
        life = lifecycle(job, escrow.attempt_of(job_id), escrow.client.chain_time())
        events = [e for e in fetch_events(escrow.client, deployment, deployment.block)
                  if e.args.get("jobId") == job_id]
    except ChainError as e:
        _fail(f"the chain at {settings.rpc_url} did not answer: {e}")
    console.print(f"job {job_id}  {life.status}  employer {job.employer}")
    console.print(f"stages  {job.stages_done} of {job.stages} final, C = {job.confirmations}, "
                  f"reward {_eth(job.reward)} per paid declaration")
    console.print(f"escrow  {_eth(job.remaining)} held unearned, {_eth(job.owed)} owed to nodes; deadline "
                  f"{_when(job.deadline)}")
    if life.phase:
        console.print(f"open    stage {life.stage}, attempt {life.attempt + 1}: {life.phase} phase, "
                      f"{life.declarations} of at most {life.max_declarations} declarations; commit until "
                      f"{_when(life.deadlines.commit)}, reveal until {_when(life.deadlines.reveal)}")
    console.print(f"waiting for {life.waiting_for}")
    console.print("allowed now: " + (", ".join(f"{a.name} ({a.who})" for a in life.actions) or "nothing"))
    table = Table("stage", "state", "declarations", "openings", "weights CID")
    for i in range(1, job.stages + 1):
        declared = sum(1 for e in events if e.name == "StageDeclared" and e["stage"] == i)
        opened = sum(1 for e in events if e.name == "StageRevealed" and e["stage"] == i)
        final = next((e for e in events if e.name == "StageFinalised" and e["stage"] == i), None)
        state = "final" if final else (life.phase or "") if i == life.stage else "waiting"
        table.add_row(str(i), state, str(declared), str(opened), final["cid"] if final else "")
    console.print(table)
    if job.shards_published:
        console.print(f"test set posted: {job.shards_published} of {job.shard_count} shards; "
                      f"{job.shards_proven} of {job.shard_count} shard proofs accepted")
    else:
        try:
            testsets.find(settings, job.employer, job.manifest_hash)
            held = "held privately here"
        except TestSetNotHeld:
            held = "not held on this machine"
        console.print(f"test set not posted ({held})")


def _when(ts: int | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "-"


@app.command("publish-test-set")
def publish_test_set(job_id: Annotated[int, typer.Argument(min=0, help="on-chain job id")]) -> None:
    """Publish the private test set (after the last stage is final) so nodes can prove accuracy."""
    from web3.exceptions import Web3Exception

    from zkpot import jobs
    from zkpot.chain import ChainError

    settings = _settings()
    escrow, _ = _escrow(settings)
    try:
        out = jobs.publish_test_set(settings, escrow, job_id)
    except jobs.JobError as e:
        _fail(str(e))
    except (ChainError, Web3Exception) as e:
        _refused("publishTestShard", e)
    console.print(f"test set of job {job_id} posted on chain: {len(out.shards)} shard(s), {out.samples} "
                  f"samples; tx " + (", ".join(out.tx_hashes) or "none (already posted)"))


@app.command("reclaim")
def reclaim(job_id: Annotated[int, typer.Argument(min=0, help="on-chain job id")]) -> None:
    """Reclaim the unearned escrow after the deadline (then withdraw it)."""
    from web3.exceptions import Web3Exception

    from zkpot.chain import ChainError

    settings = _settings()
    escrow, _ = _escrow(settings)
    try:
        receipt = escrow.reclaim(job_id)
    except (ChainError, Web3Exception) as e:
        _refused("reclaim", e)
    amount = sum(ev["amount"] for ev in receipt.events_named("JobReclaimed"))
    console.print(f"job {job_id} reclaimed: {_eth(amount)} credited; tx {receipt.tx_hash}")


@app.command("verify")
def verify(
    job_id: Annotated[int, typer.Argument(min=0, help="on-chain job id")],
    model: Annotated[Path | None, typer.Option(help="audit this copy of S_t (bytes) instead of the "
                                                    "downloaded one")] = None,
    test_set: Annotated[Path | None, typer.Option("--test-set", help="audit this copy of the test "
                                                  "set (NPZ x, y) instead of the posted one")] = None,
    verifier: Annotated[bool, typer.Option(help="recompute the verifier contract's VKA and code "
                                                "from the circuit and its SRS")] = True,
) -> None:
    """Download the final model and the test set, recompute h_W, every c_T and the reference
    count, check each accepted proof off-chain, and compare it all with the chain."""
    from zkpot.audit import AuditError, audit_job
    from zkpot.chain import ChainError
    from zkpot.datasets import DatasetError, load_file
    from zkpot.storage import open_store
    from zkpot.zk import LocalSrsRefused

    settings = _settings()
    escrow, deployment = _escrow(settings, signing=False)
    try:
        local_model = model.read_bytes() if model else None
        local_test = load_file(test_set.read_bytes(), test_set.name) if test_set else None
    except (OSError, DatasetError) as e:
        _fail(f"cannot read a local copy: {e}")
    try:
        with progress_status(f"auditing job {job_id}…"):
            audit = audit_job(settings, escrow.client, deployment, job_id, open_store(settings),
                              model=local_model, test_set=local_test, verifier=verifier)
    except (AuditError, LocalSrsRefused) as e:
        _fail(str(e))
    except ChainError as e:
        _fail(f"the chain at {settings.rpc_url} did not answer: {e}")
    from rich.text import Text

    table = Table("", "check", "chain", "recomputed")
    for c in audit.checks:   # values from the chain and the store are text, never markup
        table.add_row("ok" if c.ok else "MISMATCH", Text(c.what), Text(c.chain), Text(c.recomputed))
    console.print(table)
    if audit.reference_counts:
        shown = f" (float model, not certified: {audit.float_count})" if audit.float_count is not None else ""
        console.print(f"reference count of the certified model: {sum(audit.reference_counts)} "
                      f"over {len(audit.reference_counts)} shard(s){shown}")
    if not audit.matched:
        _fail(f"job {job_id}: {len(audit.mismatches)} of {len(audit.checks)} checks do not match "
              f"the chain: " + "; ".join(c.what for c in audit.mismatches))
    console.print(f"job {job_id}: all {len(audit.checks)} checks match the chain")
