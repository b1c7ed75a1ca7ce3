"""Node operators: nodes and stakes, declarations, earned and pending rewards, withdraw, and the
steps nodes report they gave up."""

from __future__ import annotations

import time
from typing import Annotated

from eth_utils import to_checksum_address
from fastapi import APIRouter, Path, Query

from api import chainlink
from api.deps import GivenUpDep, IndexDep, SettingsDep
from api.problems import ProblemError, responses
from api.schemas import (ADDRESS_PATTERN, PAGE_LIMIT_MAX, AccountPublic, GivenUpIn, GivenUpPublic,
                         NodePage, NodePublic, UnsignedTx)
from zkpot.node.given_up import GivenUpReport, ReportError, ReportNotSigned

router = APIRouter(prefix="/api", tags=["nodes"])
AddressPath = Annotated[str, Path(pattern=ADDRESS_PATTERN, description="an account address")]


def _norm(address: str) -> str:
    """The address as the index spells it (events carry checksummed addresses)."""
    return to_checksum_address(address)


@router.get("/nodes", response_model=NodePage, summary="Registered nodes, by address, a page at a time",
            responses=responses(422, 503))
def nodes(index: IndexDep, settings: SettingsDep,
          limit: Annotated[int, Query(ge=1, le=PAGE_LIMIT_MAX, description="items per page")] = 50,
          cursor: Annotated[str | None, Query(pattern=ADDRESS_PATTERN,
                                              description="next_cursor of the previous page")] = None,
          ) -> NodePage:
    with index._lock:
        recs = [dict(r) for r in index.nodes.values()]
        earned = dict(index.credited)
    recs = sorted((r for r in recs if cursor is None or r["address"].lower() > cursor.lower()),
                  key=lambda r: r["address"].lower())
    page, more = recs[:limit], len(recs) > limit
    pending = chainlink.pending_credit(settings, [r["address"] for r in page])
    return NodePage(items=[NodePublic(address=r["address"], status=r["status"], stake=str(r["stake"]),
                                      declarations=r["declarations"], stages_paid=r["stages_paid"],
                                      earned=str(earned.get(r["address"], 0)),
                                      pending=str(pending[r["address"]])) for r in page],
                    next_cursor=page[-1]["address"] if more else None)


@router.get("/accounts/{address}", response_model=AccountPublic, summary="An account's rewards",
            responses=responses(422, 503))
def account(address: AddressPath, index: IndexDep, settings: SettingsDep) -> AccountPublic:
    addr = _norm(address)
    pending = chainlink.pending_credit(settings, [addr])[addr]
    with index._lock:
        return AccountPublic(address=addr, earned=str(index.credited.get(addr, 0)),
                             pending=str(pending), withdrawn=str(index.withdrawn.get(addr, 0)))


@router.get("/accounts/{address}/withdraw-tx", response_model=list[UnsignedTx],
            summary="The withdraw transactions that pay out this account's credit",
            responses=responses(409, 422, 503))
def withdraw_tx(address: AddressPath, settings: SettingsDep) -> list[UnsignedTx]:
    return chainlink.withdraw_transactions(settings, _norm(address))


@router.post("/nodes/{address}/given-up", response_model=GivenUpPublic, status_code=201,
             summary="A node reports a step it gave up (signed by the node's key)",
             responses=responses(403, 404, 409, 413, 422, 429, 503))
def report_given_up(address: AddressPath, body: GivenUpIn, index: IndexDep, settings: SettingsDep,
                    board: GivenUpDep) -> GivenUpPublic:
    """Shown on the job's page as the node's word. The report must be signed by ``address``, a
    registered node, for a job and stage of this escrow, and be fresh; a node's later report of
    the same step replaces it. Any registered node may report on any job (it need not have
    declared there: a node that gave up training never did), at most 16 steps a job."""
    addr = _norm(address)
    with index._lock:
        node = index.nodes.get(addr)
        job = index.jobs.get(body.job_id)
    if node is None or node.get("status") not in ("active", "exiting"):
        raise ProblemError(404, f"no registered node {addr} on this chain (yet)")
    if job is None:
        raise ProblemError(404, f"no job {body.job_id} on this chain (yet)")
    try:
        report = GivenUpReport(addr, chainlink.chain_id_of(settings), index.escrow_address,
                               body.job_id, body.stage, body.kind, body.reason, body.at)
    except ReportError as exc:
        raise ProblemError(422, str(exc)) from None
    try:
        report.check_job(int(job.created["stages"]))
    except ReportError as exc:
        raise ProblemError(409, str(exc)) from None
    try:
        report.check(body.signature, int(time.time()))
    except ReportNotSigned as exc:
        raise ProblemError(403, str(exc)) from None
    except ReportError as exc:
        raise ProblemError(422, str(exc)) from None
    board.put(report, job.tx)
    return GivenUpPublic(node=addr, kind=report.kind, stage=report.stage, reason=report.reason,
                         at=report.at)
