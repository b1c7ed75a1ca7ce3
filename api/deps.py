"""Dependencies the routes declare with ``Annotated`` (settings, sign-in, index, store)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from api.given_up import GivenUpBoard
from api.index import ChainIndex
from api.problems import ProblemError
from api.siwe import Session, SessionStoreDown, SiweAuthority
from zkpot.config import Settings

# the dashboard's session: HttpOnly (page scripts cannot read it), SameSite=Strict, path /api
SESSION_COOKIE = "zkpot_session"


def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_siwe(request: Request) -> SiweAuthority:
    return request.app.state.siwe


def get_given_up(request: Request) -> GivenUpBoard:
    """The steps nodes reported they gave up."""
    return request.app.state.given_up


def get_index(request: Request) -> ChainIndex:
    """The read-side index (rebuilt from chain events)."""
    return request.app.state.index


_bearer = HTTPBearer(auto_error=False, description="session token from POST /api/auth/verify "
                                                   "with bearer=true (scripts, the CLI)")
_cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False,
                       description="the dashboard's session cookie, set by POST /api/auth/verify")


def session_token(creds: HTTPAuthorizationCredentials | None, cookie: str | None) -> str | None:
    """The bearer token if one is sent, else the session cookie."""
    if creds is not None and creds.credentials:
        return creds.credentials
    return cookie or None


def require_session(
    siwe: Annotated[SiweAuthority, Depends(get_siwe)],
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    cookie: Annotated[str | None, Depends(_cookie)],
) -> Session:
    """The signed-in wallet (Sign-In with Ethereum); 401 without a valid session."""
    token = session_token(creds, cookie)
    if token is None:
        raise ProblemError(401, "sign in with your wallet first (POST /api/auth/verify)")
    try:
        session = siwe.session(token)
    except SessionStoreDown as e:
        raise ProblemError(503, str(e)) from e
    if session is None:
        raise ProblemError(401, "session unknown or expired: sign in again")
    return session


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
SiweDep = Annotated[SiweAuthority, Depends(get_siwe)]
SessionDep = Annotated[Session, Depends(require_session)]
IndexDep = Annotated[ChainIndex, Depends(get_index)]
GivenUpDep = Annotated[GivenUpBoard, Depends(get_given_up)]
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
CookieDep = Annotated[str | None, Depends(_cookie)]
