"""A participant's reply that comes back as an error is reported, never dropped unseen.

The federation's end-to-end test checks that an honest run has no such reply; here, Flower
messages that carry an error (as its simulation engine returns a ClientApp's exception) are
named in the round's report and printed in its summary.
"""

from __future__ import annotations

import time

from flwr.app import Error, Message, Metadata, MetricRecord, RecordDict

from zkpot.federated.employer import RoundResult
from zkpot_flower.federation import FederationConfig, FederationReport
from zkpot_flower.strategy import RoundReport, _failures

TRACE = ("Traceback (most recent call last):\n  File \"zkpot/storage.py\", line 117, in get\n"
         "KeyError: 'bafkrei… is not in the local store /tmp/participant/store'")


def reply(src: int, *, error: Error | None = None) -> Message:
    meta = Metadata(run_id=1, message_id=f"m{src}", src_node_id=src, dst_node_id=0, reply_to_message_id="ask",
                    group_id="1", created_at=time.time(), ttl=60, message_type="train")
    if error is not None:
        return Message(error, metadata=meta)
    return Message(RecordDict({"metrics": MetricRecord({"zkpot-committed": 1})}), metadata=meta)


def test_an_errored_reply_is_named_with_its_node_and_the_exception_line():
    failures = _failures("train", [reply(7, error=Error(0, TRACE)), reply(8)], 2)
    assert failures == ["train: node 7: KeyError: 'bafkrei… is not in the local store /tmp/participant/store'"]


def test_an_error_without_a_reason_is_named_by_its_code():
    assert _failures("reveal", [reply(3, error=Error(4))], 1) == ["reveal: node 3: error code 4"]


def test_a_huge_reason_is_cut_to_one_line_of_300_characters():
    (line,) = _failures("train", [reply(5, error=Error(0, "x" * 10_000))], 1)
    assert line == "train: node 5: " + "x" * 300


def test_a_node_that_withholds_its_reply_is_counted():
    # the cheapest way to stall a round: answer nothing (Flower returns no message for it)
    assert _failures("train", [reply(1)], 3) == ["train: 2 of 3 nodes asked did not answer"]
    assert _failures("reveal", [], 2) == ["reveal: 2 of 2 nodes asked did not answer"]
    assert _failures("train", [reply(1), reply(2)], 2) == []


def test_a_hostile_reason_reaches_the_report_as_printable_text_only():
    hostile = "Traceback\nboom \x1b[2J\x1b]0;owned\x07 [red]not markup[/red] \x00end"
    (line,) = _failures("train", [reply(9, error=Error(0, hostile))], 1)
    assert line == "train: node 9: boom ?[2J?]0;owned? [red]not markup[/red] ?end"
    assert all(c.isprintable() for c in line)  # and the demo prints it with markup off


def test_the_summary_prints_each_failure_of_its_round():
    config = FederationConfig(participants=2, attackers=(), rounds=1)
    rep = RoundReport(0, failures=["train: node 7: KeyError: 'not in the local store'"],
                      result=RoundResult(0, model_correct=3))
    report = FederationReport(config=config, task_id=1, rounds=[rep], accuracy=[0.5], initial_accuracy=0.1,
                              credits={}, labels={}, seconds=1.0, employer=None, data=None)
    lines = report.summary().splitlines()
    assert "round 0 FAILED train: node 7: KeyError: 'not in the local store'" in lines
    assert any(line.startswith("round 0: aggregated 0 of 0 accepted") for line in lines)
