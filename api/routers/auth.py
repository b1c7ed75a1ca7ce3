"""Sign-In with Ethereum: nonce, verification, session."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from api.deps import SessionDep, SettingsDep, SiweDep
from api.problems import ProblemError, responses
from api.schemas import ADDRESS_PATTERN
from api.siwe import SiweError
from api.chainlink import chain_id_of

router = APIRouter(prefix="/api/auth", tags=["auth"])


class SignInChallenge(BaseModel):
    nonce: str = Field(description="single-use nonce (10 minutes)")
    message: str = Field(description="EIP-4361 message for the wallet to sign with personal_sign")
    chain_id: int


class SignInRequest(BaseModel):
    message: str = Field(min_length=1, max_length=4096, description="the signed EIP-4361 message")
    signature: str = Field(pattern=r"^0x[0-9a-fA-F]{130}$", description="65-byte signature, hex")


class SessionPublic(BaseModel):
    token: str = Field(description="send as 'Authorization: Bearer <token>'")
    address: str = Field(description="the signed-in wallet (checksummed)")


class WhoAmI(BaseModel):
    address: str


def _domain(request: Request) -> str:
    return request.headers.get("host") or request.url.netloc


@router.get("/nonce", response_model=SignInChallenge, summary="Start signing in",
            responses=responses(422, 503))
def nonce(request: Request, siwe: SiweDep, settings: SettingsDep,
          address: str = Query(pattern=ADDRESS_PATTERN, description="the wallet's address")):
    chain_id = chain_id_of(settings)
    origin = f"{request.url.scheme}://{_domain(request)}"
    msg = siwe.prepare(address, _domain(request), origin, chain_id)
    return SignInChallenge(nonce=msg.nonce, message=msg.text(), chain_id=chain_id)


@router.post("/verify", response_model=SessionPublic, summary="Finish signing in",
             responses=responses(401, 422, 503))
def verify(body: SignInRequest, request: Request, siwe: SiweDep, settings: SettingsDep):
    try:
        token, session = siwe.verify(body.message, body.signature, _domain(request),
                                     chain_id_of(settings))
    except SiweError as e:
        raise ProblemError(401, str(e)) from e
    return SessionPublic(token=token, address=session.address)


@router.get("/me", response_model=WhoAmI, summary="The signed-in wallet", responses=responses(401))
def me(session: SessionDep):
    return WhoAmI(address=session.address)
