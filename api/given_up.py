"""The steps nodes gave up, as they reported them (``zkpot.node.given_up``), kept in Redis.

One Redis hash per job (``zkpot:given-up:<escrow>:<job>``: one Redis may serve several
deployments), one field per (node, step, stage): a node
that reports the same step again replaces its report. Only registered nodes can report, each
report costs its node a signature, and a job keeps at most ``PER_JOB_MAX`` of them, so a flood
cannot grow the store or the job page without bound.
"""

from __future__ import annotations

import json

from api.problems import ProblemError
from zkpot.node.given_up import GivenUpReport

KEY_PREFIX = "zkpot:given-up:"
PER_JOB_MAX = 256


class GivenUpBoard:
    def __init__(self, redis, prefix: str = KEY_PREFIX) -> None:
        self.redis = redis
        self.prefix = prefix

    def _call(self, op):
        from redis.exceptions import RedisError

        try:
            return op()
        except RedisError as e:
            raise ProblemError(503, f"the report store does not answer: {e}") from e

    def put(self, report: GivenUpReport) -> None:
        key = f"{self.prefix}{report.escrow.lower()}:{report.job_id}"
        field = f"{report.node}:{report.kind}:{report.stage}"
        value = json.dumps({"node": report.node, "kind": report.kind, "stage": report.stage,
                            "reason": report.reason, "at": report.at})

        def write():
            if not self.redis.hexists(key, field) and self.redis.hlen(key) >= PER_JOB_MAX:
                raise ProblemError(429, f"job {report.job_id} already holds {PER_JOB_MAX} "
                                        f"given-up reports")
            self.redis.hset(key, field, value)

        self._call(write)

    def of_job(self, escrow: str, job_id: int) -> list[dict]:
        """The job's reports, by stage, then step, then node."""
        raw = self._call(lambda: self.redis.hvals(f"{self.prefix}{escrow.lower()}:{job_id}"))
        items = [json.loads(v) for v in raw]
        return sorted(items, key=lambda r: (r["stage"], r["kind"], r["node"].lower()))
