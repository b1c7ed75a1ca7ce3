"""Node operators: nodes and stakes, declarations, earned and pending rewards, withdraw."""

from __future__ import annotations

from typing import Annotated

from eth_utils import to_checksum_address
from fastapi import APIRouter, Path, Query

from api import chainlink
from api.deps import IndexDep, SettingsDep
from api.problems import responses
from api.schemas import ADDRESS_PATTERN, PAGE_LIMIT_MAX, AccountPublic, NodePage, NodePublic, UnsignedTx

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
