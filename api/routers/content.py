"""Content by CIDv1: stage weights, the final model, chunks and manifests."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import Response

from api.deps import SettingsDep
from api.problems import ProblemError, responses
from api.schemas import CID_PATTERN
from zkpot.storage import StorageError, open_store, parse_cid

router = APIRouter(prefix="/api/content", tags=["content"])


@router.get("/{cid}", summary="Download stored content by CID (weights, model, manifest, chunks)",
            response_class=Response, responses={
                200: {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
                      "description": "the bytes, checked against the CID"},
                **responses(404, 422)})
def download(cid: Annotated[str, Path(pattern=CID_PATTERN, description="CIDv1, base32")],
             settings: SettingsDep) -> Response:
    try:
        parse_cid(cid)
    except StorageError as e:
        raise ProblemError(422, str(e)) from e
    store = open_store(settings)
    try:
        if not store.has(cid):
            raise ProblemError(404, f"no content {cid} in this store")
        data = store.get(cid)
    except StorageError as e:
        raise ProblemError(404, str(e)) from e
    return Response(data, media_type="application/octet-stream",
                    headers={"content-disposition": f'attachment; filename="{cid}.bin"'})
