"""Dependencies the routes declare with ``Annotated`` (settings, sign-in, index, store)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.index import ChainIndex
from api.problems import ProblemError
from api.siwe import Session, SiweAuthority
from zkpot.config import Settings


def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_siwe(request: Request) -> SiweAuthority:
    return request.app.state.siwe


def get_index(request: Request) -> ChainIndex:
    """The read-side index (rebuilt from chain events)."""
    return request.app.state.index


_bearer = HTTPBearer(auto_error=False, description="session token from POST /api/auth/verify")


def require_session(
    siwe: Annotated[SiweAuthority, Depends(get_siwe)],
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Session:
    """The signed-in wallet (Sign-In with Ethereum); 401 without a valid session."""
    if creds is None or not creds.credentials:
        raise ProblemError(401, "sign in with your wallet first (POST /api/auth/verify)")
    session = siwe.session(creds.credentials)
    if session is None:
        raise ProblemError(401, "session unknown or expired: sign in again")
    return session


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
SiweDep = Annotated[SiweAuthority, Depends(get_siwe)]
SessionDep = Annotated[Session, Depends(require_session)]
IndexDep = Annotated[ChainIndex, Depends(get_index)]
