"""One delegated job end to end on a ``DemoStack``: post through the API, follow the stages,
publish the test set, wait for the on-chain accuracy proof, withdraw, and report."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from zkpot.chain import ChainEvent, JobEscrowClient, JobStatus, fetch_events
from zkpot.chain.events import decode_log
from demo.employer import ApiEmployer, JobRequest
from demo.follow import EventFollower, short
from demo.stack import EMPLOYER_KEY, DemoStack


@dataclass
class StageOutcome:
    stage: int
    declared: list[str]
    paid: list[str]
    slashed: list[str]
    rho: bytes
    weights_hash: bytes
    weights_cid: str
    latency_blocks: int = 0     # from the stage's opening (the block before) to its finalisation
    latency_s: int = 0


@dataclass
class JobOutcome:
    """What the user notices about a finished job, read from the chain and the store."""

    job_id: int
    status: JobStatus
    stage_count: int
    confirmations: int
    stages: list[StageOutcome]
    deposit: int
    samples: int
    threshold: int
    proven_correct: int
    proofs: list[tuple[int, str, int]]          # (shard, submitter, correct)
    reference_correct: int                      # the certified model's count (what proofs count)
    float_accuracy: float                       # the float model's, not certified: shown beside it
    float_correct: int
    audit_checks: int                           # `zkpot job verify`'s checks of the job, all matched
    audit_mismatches: list[str]
    withdrawn: dict[str, int]                   # name → wei, from Withdrawn events of the escrow
    gas: dict[str, tuple[int, int]]             # function → (transactions, total gas)
    job_seconds: float                          # posting → job complete
    escrow_balance: int
    escrow_remaining: int
    names: dict[str, str] = field(default_factory=dict)

    @property
    def rho_agreed(self) -> bool:
        """Every stage final, its C confirmations paid, nobody slashed."""
        return (len(self.stages) == self.stage_count
                and all(len(s.paid) == self.confirmations and not s.slashed for s in self.stages))

    def report(self) -> list[str]:
        eth = lambda wei: f"{wei / 10**18:.4f}".rstrip("0").rstrip(".")  # noqa: E731
        lines = [f"job {self.job_id}: {self.status.name}, {self.stage_count} stages, C={self.confirmations}, "
                 f"escrow {eth(self.deposit)} ETH, posted → complete in {self.job_seconds:.0f} s"]
        for s in self.stages:
            lines.append(f"  stage {s.stage}: ρ {short(s.rho, 18)} declared by {', '.join(s.declared)}; "
                         f"paid {', '.join(s.paid)}" + (f"; slashed {', '.join(s.slashed)}" if s.slashed else "")
                         + f"; final {s.latency_blocks} blocks, {s.latency_s} s after it opened")
        if self.stages:
            blocks = sum(s.latency_blocks for s in self.stages) / len(self.stages)
            secs = sum(s.latency_s for s in self.stages) / len(self.stages)
            lines.append(f"stage latency (opened → final, training included): {blocks:.1f} blocks, {secs:.0f} s mean")
        lines.append(f"certified model on the {self.samples} test samples: {self.reference_correct} correct "
                     f"(reference count); proven in zk {self.proven_correct} correct (threshold "
                     f"{self.threshold}), {len(self.proofs)} proof(s) verified on-chain by "
                     + ", ".join(sorted({p[1] for p in self.proofs}))
                     + f"; float model, not certified: {self.float_correct} correct ({self.float_accuracy:.3f})")
        lines.append(f"job verify (`zkpot job verify {self.job_id}`, the verifier contract's recompile "
                     f"left out): {self.audit_checks} checks of the chain against the downloaded model "
                     f"and test set, " + ("all matched" if not self.audit_mismatches else
                                          "MISMATCHED: " + "; ".join(self.audit_mismatches)))
        lines.append("withdrawn from the escrow: " + ", ".join(f"{n} {eth(w)} ETH" for n, w in self.withdrawn.items())
                     + f"; escrow holds {eth(self.escrow_balance)} ETH now")
        total = sum(g for _, g in self.gas.values())
        lines.append("gas: " + ", ".join(f"{fn} {n}× {g // max(n, 1):,}" for fn, (n, g) in self.gas.items())
                     + f" (mean per tx); total {total:,}")
        return lines


def _job_id_from(client, tx_hash: str) -> int:
    receipt = client.rpc(lambda: client.w3.eth.get_transaction_receipt(tx_hash))
    for log in receipt["logs"]:
        ev = decode_log(log)
        if ev is not None and ev.name == "JobCreated":
            return ev["jobId"]
    raise RuntimeError(f"transaction {tx_hash} created no job")


def run_job(stack: DemoStack, request: JobRequest, line: Callable[[str], None] = print,
            status: Callable[[str], None] | None = None, timeout: float = 1800) -> JobOutcome:
    """Post ``request`` as the employer through the API and drive it to the end; report it."""
    client = stack.employer_client()
    escrow = JobEscrowClient(client, stack.deployment.escrow)
    names = {n.address: n.name for n in stack.running}
    employer = ApiEmployer(stack.api_url, EMPLOYER_KEY)
    names[employer.address] = "employer"
    follower = EventFollower(client, stack.deployment, names, from_block=client.block_number() + 1)
    try:
        employer.sign_in()
        line(f"employer {employer.address} signed in to the API (EIP-4361); posting the job")
        started = time.monotonic()
        prepared = employer.post_job(request)
        job_id = _job_id_from(client, prepared["tx_hash"])
        line(f"API prepared job {job_id}: {prepared['stage_count']} stages over {prepared['train_samples']} "
             f"training samples, {prepared['test_samples']} test samples kept private, "
             f"createJob sent by the API (dev mode) escrowing {prepared['deposit_eth']} ETH")

        def job():
            return escrow.get_job(job_id)

        follower.wait(lambda: job().status != JobStatus.TRAINING, timeout, "the nodes to finish every stage",
                      line, status)
        if job().status == JobStatus.AWAITING_TEST_SET:
            out = employer.publish_test_set(job_id)
            line(f"employer posted the test set on chain through the API ({out['samples']} samples in "
                 f"{out['shards']} shard(s), each checked by the escrow against its committed hash)")
        follower.wait(lambda: job().status.ended, timeout,
                      "the nodes' zk accuracy proofs (ezkl, minutes on 2 cores)", line, status)
        job_seconds = time.monotonic() - started
        follower.wait(lambda: job().owed == 0, 300, "the nodes to settle their rewards and bounty shares",
                      line, status)
        withdraw_all(stack, escrow, employer.address, line)
        follower.wait(lambda: _all_withdrawn(stack, escrow, employer.address), 300,
                      "every withdrawal", line, status)
        return _outcome(stack, escrow, job_id, follower.events, names, job_seconds)
    finally:
        employer.close()


def withdraw_all(stack: DemoStack, escrow: JobEscrowClient, employer: str,
                 line: Callable[[str], None]) -> None:
    """Each node withdraws through its own chain worker (its one sender); the employer directly."""
    from celery import Celery

    from workers.queues import NodeQueues

    app = Celery("zkpot-demo", broker=stack.redis_url, backend=stack.redis_url)
    results = []
    for node in stack.running:
        if escrow.credit_of(node.address) > 0:
            queue = NodeQueues(node.address.lower().removeprefix("0x")).chain
            results.append((node, app.send_task("workers.tasks.payments.withdraw", queue=queue)))
    for node, result in results:
        result.get(timeout=300)   # the Withdrawn events tell the amounts
    if escrow.credit_of(employer) > 0:
        escrow.withdraw()


def _all_withdrawn(stack: DemoStack, escrow: JobEscrowClient, employer: str) -> bool:
    return all(escrow.credit_of(a) == 0 for a in [employer] + [n.address for n in stack.running])


def _gas(client, deployment, events: list[ChainEvent]) -> dict[str, tuple[int, int]]:
    """Gas per contract function over every transaction that emitted one of ``events``."""
    escrow = client.contract("JobEscrow", deployment.escrow)
    registry = client.contract("NodeRegistry", deployment.registry)
    by_address = {escrow.address.lower(): escrow, registry.address.lower(): registry}
    out: dict[str, tuple[int, int]] = {}
    for tx_hash in dict.fromkeys(e.tx_hash for e in events):
        tx = client.rpc(lambda: client.w3.eth.get_transaction(tx_hash))
        contract = by_address.get(str(tx["to"]).lower())
        if contract is None:
            continue
        fn = contract.decode_function_input(tx["input"])[0].fn_name
        gas = client.rpc(lambda: client.w3.eth.get_transaction_receipt(tx_hash))["gasUsed"]
        n, total = out.get(fn, (0, 0))
        out[fn] = (n + 1, total + gas)
    return out


def _outcome(stack: DemoStack, escrow: JobEscrowClient, job_id: int, events: list[ChainEvent],
             names: dict[str, str], job_seconds: float) -> JobOutcome:
    from zkpot.audit import audit_job
    from zkpot.escrow_terms import escrow_of
    from zkpot.storage import open_store

    who = lambda a: names.get(a, short(a, 8))  # noqa: E731
    mine = [e for e in events if e.args.get("jobId", job_id) == job_id]
    view = escrow.get_job(job_id)
    stages = []
    # a stage opens in the block that finalised the one before it (the job's creation for stage 1)
    opened = next(e for e in mine if e.name == "JobCreated").block_number
    for e in (e for e in mine if e.name == "StageFinalised"):
        of = lambda name: [who(x["node"]) for x in mine if x.name == name and x["stage"] == e["stage"]]  # noqa: E731
        seconds = escrow.client.block_time(e.block_number) - escrow.client.block_time(opened)
        stages.append(StageOutcome(e["stage"], of("StageDeclared"), of("DeclarationRewarded"),
                                   of("DeclarationSlashed"), e["rho"], e["weightsHash"], e["cid"],
                                   e.block_number - opened, seconds))
        opened = e.block_number
    client = escrow.client
    # what `zkpot job verify` does: the model and test set downloaded, every hash, commitment,
    # count and proof recomputed; the counts come from the certified model's reference evaluator
    audit = audit_job(stack.settings(), client, stack.deployment, job_id, open_store(stack.settings()),
                      verifier=False)
    everything = fetch_events(client, stack.deployment)  # registrations included, for the gas
    withdrawn: dict[str, int] = {}
    for e in everything:
        if e.name == "Withdrawn" and e.address.lower() == escrow.address.lower():
            withdrawn[who(e["account"])] = withdrawn.get(who(e["account"]), 0) + e["amount"]
    proofs = [(e["shard"], who(e["submitter"]), e["correctCount"]) for e in mine if e.name == "AccuracyProofAccepted"]
    return JobOutcome(
        job_id=job_id, status=view.status, stage_count=view.stages, confirmations=view.confirmations,
        stages=stages, deposit=escrow_of(view.stages, view.confirmations, view.reward, view.bounty),
        samples=view.samples, threshold=view.threshold, proven_correct=view.correct_count, proofs=proofs,
        reference_correct=sum(audit.reference_counts), float_correct=audit.float_count or 0,
        float_accuracy=(audit.float_count or 0) / max(view.samples, 1),
        audit_checks=len(audit.checks), audit_mismatches=[c.what for c in audit.mismatches],
        withdrawn=withdrawn,
        gas=_gas(client, stack.deployment, everything), job_seconds=job_seconds,
        escrow_balance=client.balance(escrow.address), escrow_remaining=view.remaining, names=names)


__all__ = ["JobOutcome", "StageOutcome", "run_job", "withdraw_all"]
