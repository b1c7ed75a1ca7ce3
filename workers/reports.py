"""Tell the gateway which steps this node gave up (``zkpot.node.given_up``), from the watcher.

Each given-up step is sent, signed, to ``<report_url>/api/nodes/<address>/given-up``:

- taken (2xx), or refused for good (400, 403, 409, 413, 422, 429: the reason is logged), it
  is not sent again;
- not takeable yet (404: the gateway's index has not read the job or the node's registration;
  a 5xx) it is tried again ``RETRY_S`` later, signed anew, up to ``MAX_TRIES`` times, then
  dropped with a log line; each report has its own tries, so one stuck report holds up no other;
- no gateway answering: every report waits ``RETRY_S`` (one warning per try).

The watcher must never wait on a gateway: the POST runs in one background thread, at most
``PER_TICK`` reports a tick and one tick's batch at a time, each within ``TIMEOUT_S``.
``ZKPOT_NODE_REPORT_URL=off`` sends nothing.
"""

from __future__ import annotations

import logging
import threading
import time

import httpx

from zkpot.node.work import Node

log = logging.getLogger("zkpot.worker")
RETRY_S = 60
MAX_TRIES = 10
TIMEOUT_S = 5
PER_TICK = 2
REFUSED_FOR_GOOD = (400, 403, 409, 413, 422, 429)

_busy = threading.Lock()


def send_given_up(node: Node, url: str | None, wait: bool = False) -> threading.Thread | None:
    """Start sending the reports that are due, in the background; returns the thread (None if
    nothing is to be sent or a batch is still in flight). ``wait`` joins it (tests)."""
    if url is None or not _busy.acquire(blocking=False):
        return None
    try:
        now = int(time.time())
        if int(node.store.get("report_next_at", "0")) > now:
            _busy.release()
            return None
        due = [r for r in node.unreported(now) if int(node.store.get(_key("next", r), "0")) <= now]
        due = [(r, r.sign(node.identity.account)) for r in due[:PER_TICK]]
    except Exception:
        _busy.release()
        raise
    if not due:
        _busy.release()
        return None
    thread = threading.Thread(target=_send, args=(node, url, due, now), daemon=True,
                              name="zkpot-given-up")
    thread.start()
    if wait:
        thread.join()
    return thread


def _key(what: str, report) -> str:
    return f"report_{what}:{report.kind}:{report.job_id}:{report.stage}"


def _send(node: Node, url: str, due: list, now: int) -> None:
    try:
        for report, signature in due:
            body = {"job_id": report.job_id, "stage": report.stage, "kind": report.kind,
                    "reason": report.reason, "at": report.at, "signature": signature}
            what = f"job {report.job_id} stage {report.stage} {report.kind}"
            try:
                answer = httpx.post(f"{url}/api/nodes/{report.node}/given-up", json=body,
                                    timeout=TIMEOUT_S)
            except httpx.HTTPError as exc:
                node.store.put("report_next_at", str(now + RETRY_S))
                _retry(node, report, now, f"could not reach {url} ({exc})", what)
                return
            if answer.is_success:
                node.mark_reported(report, f"{now} taken")
            elif answer.status_code in REFUSED_FOR_GOOD:
                node.mark_reported(report, f"{now} refused {answer.status_code}")
                log.warning("the gateway refused the report that %s was given up: %s %s", what,
                            answer.status_code, answer.text[:300])
            else:
                _retry(node, report, now, f"the gateway answered {answer.status_code} "
                                          f"({answer.text[:200]})", what)
    except Exception:  # noqa: BLE001 - a report is never worth a watcher's traceback loop
        log.exception("sending given-up reports failed")
    finally:
        _busy.release()


def _retry(node: Node, report, now: int, why: str, what: str) -> None:
    tries = int(node.store.get(_key("tries", report), "0")) + 1
    node.store.put(_key("tries", report), str(tries))
    if tries >= MAX_TRIES:
        node.mark_reported(report, f"{now} dropped after {tries} tries: {why}")
        log.warning("the report that %s was given up is dropped after %s tries: %s", what, tries, why)
        return
    node.store.put(_key("next", report), str(now + RETRY_S))
    log.warning("the report that %s was given up is not delivered: %s; trying again in %s s "
                "(%s of %s)", what, why, RETRY_S, tries, MAX_TRIES)
