"""The steps nodes gave up, as they reported them (``zkpot.node.given_up``), kept in Redis.

One Redis hash per job, keyed by the escrow, the job id and the job's creation transaction
(``zkpot:given-up:<escrow>:<job>:<tx>``: one Redis may serve several deployments, and a dev
chain started again reuses addresses and ids), one field per (node, step, stage): a node that
reports the same step again replaces its report. Only registered nodes can report, each
report costs its node a signature, a node keeps at most ``PER_NODE_MAX`` reports a job and a
job at most ``PER_JOB_MAX`` (checked and written in one Redis script, so concurrent posts
cannot pass the caps), and a job's reports expire ``TTL_S`` after the last one: a flood cannot
grow the store or the job page without bound, and one node cannot fill a job's page.
"""

from __future__ import annotations

import json
import logging

from api.problems import ProblemError
from zkpot.node.given_up import GivenUpReport

log = logging.getLogger("zkpot.api")
KEY_PREFIX = "zkpot:given-up:"
PER_JOB_MAX = 256
PER_NODE_MAX = 16
TTL_S = 30 * 86400

# KEYS[1] the job's hash; ARGV: field, value, node prefix, per-node cap, per-job cap, ttl.
# 1 written, -1 the node's cap, -2 the job's cap.
_PUT = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then
  if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[5]) then return -2 end
  local mine = 0
  for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
    if string.sub(f, 1, string.len(ARGV[3])) == ARGV[3] then mine = mine + 1 end
  end
  if mine >= tonumber(ARGV[4]) then return -1 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[6]))
return 1
"""


class GivenUpBoard:
    def __init__(self, redis, prefix: str = KEY_PREFIX) -> None:
        self.redis = redis
        self.prefix = prefix

    def _key(self, escrow: str, job_id: int, created_tx: str) -> str:
        return f"{self.prefix}{escrow.lower()}:{job_id}:{created_tx.lower()}"

    def _call(self, op):
        from redis.exceptions import RedisError

        try:
            return op()
        except RedisError as e:
            raise ProblemError(503, f"the report store does not answer: {e}") from e

    def put(self, report: GivenUpReport, created_tx: str) -> None:
        """Keep the report; 429 past a node's or the job's cap, 503 without Redis."""
        field = f"{report.node.lower()}:{report.kind}:{report.stage}"
        value = json.dumps({"node": report.node, "kind": report.kind, "stage": report.stage,
                            "reason": report.reason, "at": report.at})
        key = self._key(report.escrow, report.job_id, created_tx)
        written = self._call(lambda: self.redis.eval(
            _PUT, 1, key, field, value, f"{report.node.lower()}:", PER_NODE_MAX, PER_JOB_MAX, TTL_S))
        if written == -1:
            raise ProblemError(429, f"{report.node} already reported {PER_NODE_MAX} given-up steps "
                                    f"of job {report.job_id}")
        if written == -2:
            raise ProblemError(429, f"job {report.job_id} already holds {PER_JOB_MAX} given-up reports")

    def of_job(self, escrow: str, job_id: int, created_tx: str) -> list[dict]:
        """The job's reports, by stage, then step, then node (an unreadable entry is skipped)."""
        raw = self._call(lambda: self.redis.hvals(self._key(escrow, job_id, created_tx)))
        items = []
        for value in raw:
            try:
                item = json.loads(value)
                items.append({k: item[k] for k in ("node", "kind", "stage", "reason", "at")})
            except (ValueError, TypeError, KeyError):
                log.warning("skipped an unreadable given-up report of job %s", job_id)
        return sorted(items, key=lambda r: (r["stage"], r["kind"], str(r["node"]).lower()))
