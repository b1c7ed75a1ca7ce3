"""The worker log handlers: JSON lines parse, and an outage's noise becomes a start and an end
line (real ``logging`` records through the real filter)."""

from __future__ import annotations

import io
import json
import logging

import redis

from workers.logs import JsonFormatter
from workers.quiet import REDIS, QuietOutages


def test_json_lines_carry_level_logger_message_and_the_exception():
    try:
        raise ValueError("bad chunk")
    except ValueError:
        import sys

        record = logging.LogRecord("zkpot.worker", logging.ERROR, __file__, 1, "job %s failed", (3,),
                                   sys.exc_info())
    line = JsonFormatter().format(record)
    doc = json.loads(line)
    assert "\n" not in line
    assert doc["level"] == "error" and doc["logger"] == "zkpot.worker"
    assert doc["message"] == "job 3 failed" and "ValueError: bad chunk" in doc["exc"]


def test_broker_noise_is_one_line_at_the_start_and_one_at_the_end():
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(QuietOutages())
    for name in ("celery.worker.consumer.consumer", "kombu.connection", "zkpot.worker"):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    consumer = logging.getLogger("celery.worker.consumer.consumer")
    try:
        for i in range(20):
            try:
                raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
            except redis.ConnectionError:
                consumer.warning("consumer: Connection to broker lost. Trying to re-establish the "
                                 "connection...", exc_info=True)
            logging.getLogger("kombu.connection").info("Restoring 1 unacknowledged message(s)")
        logging.getLogger("zkpot.worker").info("job 1 stage 2 train: trained")   # still written
        consumer.info("Connected to redis://127.0.0.1:6379/0")
    finally:
        for name in ("celery.worker.consumer.consumer", "kombu.connection", "zkpot.worker"):
            logging.getLogger(name).removeHandler(handler)
            logging.getLogger(name).propagate = True
    lines = out.getvalue().splitlines()
    assert len(lines) == 3, lines
    assert lines[0].startswith("redis unreachable: ")
    assert lines[1] == "job 1 stage 2 train: trained"
    assert lines[2].startswith("redis reachable again after") and "(20 failed tries)" in lines[2]
    assert "Traceback" not in out.getvalue() and not REDIS.active
