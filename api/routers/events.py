"""Live progress: every indexed chain event as a server-sent event; the index's status."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel

from api.deps import IndexDep
from api.schemas import IndexStatus

router = APIRouter(prefix="/api", tags=["events"])
KEEPALIVE_S = 15.0


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


@router.get("/events", response_class=EventSourceResponse, summary="Live chain events (SSE)",
            responses={200: {"description": "text/event-stream of `chain` events (ChainEvent JSON)"}})
async def events(request: Request, index: IndexDep,
                 after: Annotated[int, Query(ge=-1, le=2**53, description="replay events with seq > after")] = -1,
                 ) -> AsyncIterable[ServerSentEvent]:
    queue = index.subscribe()
    try:
        for ev in list(index.events)[after + 1:]:
            yield ServerSentEvent(event="chain", id=str(ev.seq), data=ChainEvent(**ev.public()))
        yield ServerSentEvent(event="ready", data={"next_block": index.next_block})
        while not await request.is_disconnected():
            try:
                ev = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
            except asyncio.TimeoutError:
                yield ServerSentEvent(comment="keep-alive")
                continue
            yield ServerSentEvent(event="chain", id=str(ev.seq), data=ChainEvent(**ev.public()))
    finally:
        index.unsubscribe(queue)


@router.get("/status", response_model=IndexStatus, summary="How far the index has read the chain")
def status(index: IndexDep) -> IndexStatus:
    return IndexStatus(next_block=index.next_block, events=len(index.events), jobs=len(index.jobs),
                       error=index.error)
