"""A participant's reply that comes back as an error is reported, never dropped unseen.

The federation's end-to-end test checks that an honest run has no such reply; here, Flower
messages that carry an error (as its simulation engine returns a ClientApp's exception) are
named in the round's report and printed in its summary.
"""

from __future__ import annotations

import time

import pytest
from flwr.app import ConfigRecord, Error, Message, Metadata, MetricRecord, RecordDict

from zkpot.federated.employer import RoundResult
from zkpot_flower.federation import FederationConfig, FederationReport
from zkpot_flower.strategy import Malformed, RoundReport, _committed, _failures, _outcome

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


def _content(src: int, content: RecordDict) -> Message:
    meta = Metadata(run_id=1, message_id=f"m{src}", src_node_id=src, dst_node_id=0, reply_to_message_id="ask",
                    group_id="1", created_at=time.time(), ttl=60, message_type="train")
    return Message(content, metadata=meta)


OUTCOME_METRICS = {"zkpot-committed": 0, "zkpot-proven": 1, "zkpot-accepted": 1, "zkpot-step": 1.0, "zkpot-gas": 1}


@pytest.mark.parametrize("content", [
    RecordDict({}),
    RecordDict({"metrics": MetricRecord({"num-examples": 1})}),
    RecordDict({"metrics": MetricRecord({"zkpot-committed": float("nan")})}),
    RecordDict({"metrics": MetricRecord({"zkpot-committed": float("inf")})}),
    RecordDict({"metrics": MetricRecord({"zkpot-committed": 7})}),
], ids=["no metrics", "no zkpot-committed", "NaN", "inf", "seven"])
def test_a_reply_that_is_not_zkpots_is_that_nodes_failure_not_the_rounds(content):
    # found by an attack: one ClientApp's reply raised inside aggregate_train, which stopped the
    # ServerApp before any reveal was asked for: every honest node's commitment was wasted
    with pytest.raises(Malformed, match="malformed reply"):
        _committed(_content(2, content))


@pytest.mark.parametrize("outcome", [{"participant": "x", "label": "x", "refusal": "", "reward-wei": "lots"}, {},
                                     {"participant": "x", "label": "x", "refusal": "", "reward-wei": "1\x00\x1b[2J"}])
def test_an_outcome_that_is_not_zkpots_is_refused_with_printable_text(outcome):
    msg = _content(3, RecordDict({"metrics": MetricRecord(OUTCOME_METRICS), "outcome": ConfigRecord(outcome)}))
    with pytest.raises(Malformed) as refused:
        _outcome(msg)
    assert str(refused.value).isprintable()


def test_zkpots_own_replies_read_as_before():
    assert _committed(reply(1)) is True
    msg = _content(4, RecordDict({"metrics": MetricRecord(OUTCOME_METRICS), "outcome": ConfigRecord(
        {"participant": "0xab", "label": "p", "refusal": "", "reward-wei": str(10**18)})}))
    assert _outcome(msg)["reward"] == 10**18 and _committed(msg) is False

