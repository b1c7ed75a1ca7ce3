"""Sign-In with Ethereum: nonce, verification, session (cookie for the dashboard, bearer for
scripts), sign-out."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from api.chainlink import chain_id_of
from api.deps import SESSION_COOKIE, BearerDep, CookieDep, SessionDep, SettingsDep, SiweDep, session_token
from api.problems import ProblemError, responses
from api.schemas import ADDRESS_PATTERN
from api.siwe import NoncesExhausted, SessionStoreDown, SiweError

router = APIRouter(prefix="/api/auth", tags=["auth"])


class SignInChallenge(BaseModel):
    nonce: str = Field(description="single-use nonce for this address only (10 minutes)")
    message: str = Field(description="EIP-4361 message for the wallet to sign with personal_sign")
    chain_id: int


class SignInRequest(BaseModel):
    message: str = Field(min_length=1, max_length=4096, description="the signed EIP-4361 message")
    signature: str = Field(pattern=r"^0x[0-9a-fA-F]{130}$", description="65-byte signature, hex")
    bearer: bool = Field(False, description="answer with a bearer token instead of setting the "
                                            "session cookie (scripts and the CLI; not for pages)")


class SessionPublic(BaseModel):
    address: str = Field(description="the signed-in wallet (checksummed)")
    expires_at: float = Field(description="unix time the session ends")
    token: str | None = Field(None, description="only when bearer=true: send as "
                                                "'Authorization: Bearer <token>'")


class WhoAmI(BaseModel):
    address: str
    expires_at: float


def _store(op):
    try:
        return op()
    except SessionStoreDown as e:
        raise ProblemError(503, str(e)) from e
    except NoncesExhausted as e:
        raise ProblemError(429, str(e)) from e


@router.get("/nonce", response_model=SignInChallenge, summary="Start signing in",
            responses=responses(422, 429, 503))
def nonce(request: Request, siwe: SiweDep, settings: SettingsDep,
          address: str = Query(pattern=ADDRESS_PATTERN, description="the wallet's address")):
    chain_id = chain_id_of(settings)
    client = request.client.host if request.client else None
    msg = _store(lambda: siwe.prepare(address, chain_id, client))
    return SignInChallenge(nonce=msg.nonce, message=msg.text(), chain_id=chain_id)


@router.post("/verify", response_model=SessionPublic, summary="Finish signing in",
             description="Checks the signed EIP-4361 message (domain and URI of this deployment, "
                         "chain, nonce issued for this address, validity, signer). Sets the "
                         "HttpOnly session cookie, or with `bearer` answers with a token.",
             responses=responses(401, 403, 422, 503))
def verify(body: SignInRequest, response: Response, siwe: SiweDep, settings: SettingsDep):
    try:
        token, session = _store(lambda: siwe.verify(body.message, body.signature, chain_id_of(settings)))
    except SiweError as e:
        raise ProblemError(401, str(e)) from e
    if body.bearer:
        return SessionPublic(address=session.address, expires_at=session.expires_at, token=token)
    response.set_cookie(SESSION_COOKIE, token, max_age=settings.session_ttl_s, path="/api",
                        httponly=True, samesite="strict",
                        secure=settings.sign_in_uri.startswith("https://"))
    return SessionPublic(address=session.address, expires_at=session.expires_at)


@router.get("/me", response_model=WhoAmI, summary="The signed-in wallet", responses=responses(401, 503))
def me(session: SessionDep):
    return WhoAmI(address=session.address, expires_at=session.expires_at)


@router.post("/logout", status_code=204, summary="Sign out (ends the session everywhere)",
             responses=responses(403, 503))
def logout(response: Response, siwe: SiweDep, creds: BearerDep, cookie: CookieDep) -> Response:
    token = session_token(creds, cookie)
    if token is not None:
        _store(lambda: siwe.end(token))
    response.status_code = 204
    response.delete_cookie(SESSION_COOKIE, path="/api", httponly=True, samesite="strict")
    return response
