"""The server side: a Flower strategy whose rounds are a FederatedTask's rounds.

Flower round r is the task's round r - 1. ``configure_train`` sends the round's global model
(the one committed on chain) and the task to the sampled nodes; their replies say who
committed. ``aggregate_train`` then lets the commit phase end (on the strategy's chain clock),
asks the committed nodes to reveal (``train.reveal``), lets the reveal phase end, and has the
employer close the round: only updates the contract accepted (proof verified, commitment
opened, the improvement rule met) and whose decrypted weights match their proven commitment
are aggregated, weighted by certified count; the new global model's count is proven and it is
published by CID with ``closeRound``. Flower never sees an update's weights.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from flwr.app import ArrayRecord, ConfigRecord, Message, MetricRecord, RecordDict
from flwr.serverapp import Grid
from flwr.serverapp.strategy import FedAvg

from zkpot.chain.clock import ChainClock, LiveChainClock
from zkpot.federated.employer import Employer, RoundResult
from zkpot_flower.records import CONTRACT_KEY, REVEAL_ACTION, ROUND_KEY, TASK_KEY, to_arrays


@dataclass
class RoundReport:
    """One round as the strategy saw it: the nodes' outcomes, the close, and the time it took."""

    round: int
    outcomes: list[dict] = field(default_factory=list)  # per node: participant, label, proven, accepted, …
    failures: list[str] = field(default_factory=list)   # a node's train or reveal that came back as an error
    result: RoundResult | None = None
    seconds: float = 0.0


class ZkpotStrategy(FedAvg):
    """FedAvg's sampling and evaluation; training rounds run on the employer's FederatedTask."""

    def __init__(self, employer: Employer, task_id: int, clock: ChainClock | None = None, *,
                 reveal_timeout: float = 600.0, **fedavg) -> None:
        fedavg.setdefault("fraction_evaluate", 0.0)
        super().__init__(**fedavg)
        self.employer = employer
        self.task_id = task_id
        self.clock = clock or LiveChainClock(employer.task_client.client)
        self.reveal_timeout = reveal_timeout
        self.reports: list[RoundReport] = []
        self._grid: Grid | None = None
        self._started = 0.0
        self._sent = 0

    def summary(self) -> None:
        super().summary()

    def configure_train(self, server_round: int, arrays: ArrayRecord, config: ConfigRecord,
                        grid: Grid) -> Iterable[Message]:
        """The round's global model as the chain has it, and the task, to the sampled nodes."""
        self._grid, self._started = grid, time.monotonic()
        tasks = self.employer.task_client
        round_ = tasks.get_task(self.task_id).round
        if round_ != server_round - 1:
            raise RuntimeError(f"Flower round {server_round} but the task's open round is {round_}")
        config[TASK_KEY], config[ROUND_KEY], config[CONTRACT_KEY] = self.task_id, round_, tasks.address
        arrays = to_arrays(self.employer.global_state(self.task_id, round_))
        messages = list(super().configure_train(server_round, arrays, config, grid))
        self._sent = len(messages)
        return messages

    def aggregate_train(self, server_round: int,
                        replies: Iterable[Message]) -> tuple[ArrayRecord | None, MetricRecord | None]:
        """Reveal, then close the round: the aggregate of what the chain accepted."""
        tasks = self.employer.task_client
        round_ = server_round - 1
        phases = tasks.round_phases(self.task_id)
        replies = list(replies)
        report = RoundReport(round_, failures=_failures("train", replies, self._sent))
        committed = []
        for m in replies:
            if m.has_error():
                continue
            try:
                if _committed(m):
                    committed.append(m)
                elif "outcome" in m.content:
                    report.outcomes.append(_outcome(m))
            except Malformed as e:      # one node's reply, never the round (found by an attack)
                report.failures.append(f"train: node {m.metadata.src_node_id}: {e}")
        self.clock.wait_until(phases.commit_end)
        if committed and self._grid is not None:
            asks = [Message(RecordDict({"config": ConfigRecord({TASK_KEY: self.task_id, ROUND_KEY: round_,
                                                               CONTRACT_KEY: tasks.address})}),
                            dst_node_id=m.metadata.src_node_id, message_type=REVEAL_ACTION) for m in committed]
            revealed = list(self._grid.send_and_receive(asks, timeout=self.reveal_timeout))
            report.failures += _failures("reveal", revealed, len(asks))
            for m in revealed:
                if m.has_error() or "outcome" not in m.content:
                    continue
                try:
                    report.outcomes.append(_outcome(m))
                except Malformed as e:
                    report.failures.append(f"reveal: node {m.metadata.src_node_id}: {e}")
        self.clock.wait_until(phases.reveal_end)
        report.result = result = self.employer.close_round(self.task_id)
        report.seconds = time.monotonic() - self._started
        self.reports.append(report)
        metrics = MetricRecord({"zkpot-accepted": len(result.reviewed), "zkpot-aggregated": len(result.aggregated),
                                "zkpot-global-correct": result.model_correct})
        return to_arrays(result.state), metrics


def _failures(step: str, replies: list[Message], asked: int) -> list[str]:
    """What went wrong with the replies to ``asked`` messages: each errored reply's last line (a
    node's exception, not its whole trace; its text is the node's, so only printable characters
    of it are kept, 300 at most), and how many nodes did not answer at all."""
    out = []
    for m in replies:
        if m.has_error():
            reason = (m.error.reason or "").strip().splitlines() or [f"error code {m.error.code}"]
            out.append(f"{step}: node {m.metadata.src_node_id}: {_printable(reason[-1], 300)}")
    if len(replies) < asked:
        out.append(f"{step}: {asked - len(replies)} of {asked} nodes asked did not answer")
    return out


class Malformed(ValueError):
    """A node's reply is not what zkpot_client sends: kept as that node's failure."""


def _read(msg: Message, read):
    try:
        return read(msg.content)
    except (KeyError, TypeError, ValueError, OverflowError) as e:
        raise Malformed(f"malformed reply ({type(e).__name__}: {_printable(e, 120)})") from None


def _printable(value, limit: int) -> str:
    """A node's text as the summary prints it: cut, and every control character a '?'."""
    return "".join(c if c.isprintable() else "?" for c in str(value)[:limit])


def _committed(msg: Message) -> bool:
    def read(content) -> bool:
        value = content["metrics"]["zkpot-committed"]
        if value not in (0, 1) or isinstance(value, float) and value != int(value):
            raise ValueError(f"zkpot-committed is {value!r}, not 0 or 1")
        return bool(value)
    return _read(msg, read)


def _outcome(msg: Message) -> dict:
    def read(content) -> dict:
        metrics, info = content["metrics"], content["outcome"]
        return {"participant": _printable(info["participant"], 100), "label": _printable(info["label"], 100),
                "refusal": _printable(info["refusal"], 300), "reward": int(str(info["reward-wei"])),
                "proven": int(metrics["zkpot-proven"]), "accepted": bool(int(metrics["zkpot-accepted"])),
                "step": float(metrics["zkpot-step"]), "gas": int(metrics["zkpot-gas"])}
    return _read(msg, read)
