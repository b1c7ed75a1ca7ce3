"""Live progress: every indexed chain event as a server-sent event; the index's status."""

from __future__ import annotations

from collections.abc import AsyncIterable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel

from api.deps import IndexDep
from api.problems import ProblemError, responses
from api.schemas import IndexStatus

router = APIRouter(prefix="/api", tags=["events"])
BATCH = 500           # events sent per read of the index
RETRY_MS = 2000       # how soon a browser reconnects (then with Last-Event-ID)


class ChainEvent(BaseModel):
    """One decoded contract event, as the index applied it."""

    seq: int
    name: str
    block: int
    tx: str
    log_index: int
    job_id: int | None
    stage: int | None
    args: dict[str, Any]


def resume_point(
    after: Annotated[int | None, Query(ge=-1, le=2**53, description="replay events with seq > after")] = None,
    last_event_id: Annotated[str | None, Header(description="set by EventSource on reconnection")] = None,
) -> int:
    """The last seq the client has: the later of ``after`` and ``Last-Event-ID`` (a browser
    reconnects to the same URL and says what it received), -1 for none. Checked before the
    stream starts, so a bad header is a 422."""
    last = -1 if after is None else after
    if last_event_id is None or last_event_id.strip() == "":
        return last
    text = last_event_id.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 16:      # '²'.isdigit(), int('²') fails
        raise ProblemError(422, f"Last-Event-ID {last_event_id[:40]!r} is not an event seq from this stream")
    return max(last, int(text))


def _sse(ev) -> ServerSentEvent:
    return ServerSentEvent(event="chain", id=str(ev.seq), data=ChainEvent(**ev.public()))


@router.get("/events", response_class=EventSourceResponse, summary="Live chain events (SSE)",
            description="Replays the indexed events after `after` (and after the `Last-Event-ID` "
                        "a reconnecting browser sends, when later), then a `ready` event, then follows new "
                        "ones. Each `chain` event's id is its seq. The stream ends when the "
                        "server stops.",
            responses={200: {"description": "text/event-stream of `chain` events (ChainEvent JSON)"},
                       **responses(422)})
async def events(index: IndexDep, last: Annotated[int, Depends(resume_point)]
                 ) -> AsyncIterable[ServerSentEvent]:
    waker = index.subscribe()
    try:
        ready = False
        while not index.closing:
            waker.clear()
            batch = index.events_after(last, BATCH)
            for ev in batch:
                yield _sse(ev)
                last = ev.seq
            if len(batch) == BATCH:
                continue
            if not ready:
                ready = True
                yield ServerSentEvent(event="ready", retry=RETRY_MS, data={"next_block": index.next_block})
            await waker.wait()
    finally:
        index.unsubscribe(waker)


@router.get("/status", response_model=IndexStatus, summary="How far the index has read the chain")
def status(index: IndexDep) -> IndexStatus:
    return IndexStatus(next_block=index.next_block, events=len(index.events), jobs=len(index.jobs),
                       error=index.error)
