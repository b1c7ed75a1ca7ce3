"""Tell the gateway which steps this node gave up (``zkpot.node.given_up``), from the watcher.

Each given-up step is sent once, signed, to ``<report_url>/api/nodes/<address>/given-up``. A
report the gateway takes (2xx) or refuses for good (400, 403, 409, 422: its reason is logged)
is not sent again; one that cannot be delivered now (no gateway, a 5xx, a job its index has not
read yet, a full job) is tried again a minute later, signed anew, with one warning per try; at
most ``PER_TICK`` go in one watcher tick. ``ZKPOT_NODE_REPORT_URL=off`` sends nothing.
"""

from __future__ import annotations

import logging
import time

import httpx

from zkpot.node.work import Node

log = logging.getLogger("zkpot.worker")
RETRY_S = 60
TIMEOUT_S = 5
PER_TICK = 8
REFUSED_FOR_GOOD = (400, 403, 409, 422)


def send_given_up(node: Node, url: str | None) -> int:
    """Send the reports not yet sent and due; returns how many the gateway took."""
    if url is None:
        return 0
    now = int(time.time())
    if int(node.store.get("report_next_at", "0")) > now:
        return 0
    taken = 0
    for report, signature in node.unreported(now)[:PER_TICK]:
        body = {"job_id": report.job_id, "stage": report.stage, "kind": report.kind,
                "reason": report.reason, "at": report.at, "signature": signature}
        target = f"{url}/api/nodes/{report.node}/given-up"
        try:
            answer = httpx.post(target, json=body, timeout=TIMEOUT_S)
        except httpx.HTTPError as exc:
            node.store.put("report_next_at", str(now + RETRY_S))
            log.warning("could not tell %s that job %s stage %s %s was given up (%s); trying "
                        "again in %s s", url, report.job_id, report.stage, report.kind, exc, RETRY_S)
            return taken
        if answer.is_success:
            node.mark_reported(report, f"{now} taken")
            taken += 1
        elif answer.status_code in REFUSED_FOR_GOOD:
            node.mark_reported(report, f"{now} refused {answer.status_code}")
            log.warning("the gateway refused the report that job %s stage %s %s was given up: %s "
                        "%s", report.job_id, report.stage, report.kind, answer.status_code,
                        answer.text[:300])
        else:
            node.store.put("report_next_at", str(now + RETRY_S))
            log.warning("the gateway answered %s to a given-up report (%s); trying again in %s s",
                        answer.status_code, answer.text[:300], RETRY_S)
            return taken
    return taken
