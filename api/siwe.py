"""Sign-In with Ethereum (EIP-4361): wallet signatures instead of passwords.

The server hands out single-use nonces, the wallet signs the EIP-4361 message with
``personal_sign``, and the server checks domain, chain, nonce, validity window and the
recovered signer before it issues an opaque session token. Nonces and sessions live in
memory: a restart signs everyone out, which costs a signature, never money.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import is_checksum_address, to_checksum_address

NONCE_TTL_S = 600
SESSION_TTL_S = 12 * 3600
STATEMENT = "Sign in to zkpot to post training jobs."

_MESSAGE = re.compile(
    r"^(?P<domain>[^\s]+) wants you to sign in with your Ethereum account:\n"
    r"(?P<address>0x[0-9a-fA-F]{40})\n\n"
    r"(?:(?P<statement>[^\n]*)\n\n)?"
    r"URI: (?P<uri>[^\n]+)\n"
    r"Version: (?P<version>[^\n]+)\n"
    r"Chain ID: (?P<chain_id>[0-9]+)\n"
    r"Nonce: (?P<nonce>[A-Za-z0-9]{8,})\n"
    r"Issued At: (?P<issued_at>[^\n]+)"
    r"(?:\nExpiration Time: (?P<expiration_time>[^\n]+))?$"
)


class SiweError(ValueError):
    """The sign-in message or its signature is not acceptable (the reason says why)."""


@dataclass(frozen=True)
class SiweMessage:
    domain: str
    address: str
    statement: str | None
    uri: str
    version: str
    chain_id: int
    nonce: str
    issued_at: datetime
    expiration_time: datetime | None

    def text(self) -> str:
        lines = [f"{self.domain} wants you to sign in with your Ethereum account:", self.address, ""]
        if self.statement:
            lines += [self.statement, ""]
        lines += [f"URI: {self.uri}", f"Version: {self.version}", f"Chain ID: {self.chain_id}",
                  f"Nonce: {self.nonce}", f"Issued At: {_iso(self.issued_at)}"]
        if self.expiration_time:
            lines.append(f"Expiration Time: {_iso(self.expiration_time)}")
        return "\n".join(lines)


def _iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(s: str) -> datetime:
    try:
        t = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError as e:
        raise SiweError(f"bad timestamp {s!r}") from e
    if t.tzinfo is None:
        raise SiweError(f"timestamp {s!r} has no time zone")
    return t


def parse_message(text: str) -> SiweMessage:
    m = _MESSAGE.match(text.replace("\r\n", "\n"))
    if not m:
        raise SiweError("not an EIP-4361 sign-in message")
    if not is_checksum_address(m["address"]):
        raise SiweError("the address in the message is not EIP-55 checksummed")
    if m["version"] != "1":
        raise SiweError(f"unsupported message version {m['version']!r}")
    exp = m["expiration_time"]
    return SiweMessage(m["domain"], m["address"], m["statement"], m["uri"], m["version"],
                       int(m["chain_id"]), m["nonce"], _parse_time(m["issued_at"]),
                       _parse_time(exp) if exp else None)


@dataclass(frozen=True)
class Session:
    address: str
    expires_at: float


class SiweAuthority:
    """Issues nonces, verifies signed messages and keeps the resulting sessions."""

    def __init__(self) -> None:
        self._nonces: dict[str, float] = {}
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def new_nonce(self) -> str:
        nonce = secrets.token_hex(12)
        now = time.time()
        with self._lock:
            self._nonces = {n: t for n, t in self._nonces.items() if t > now}
            self._nonces[nonce] = now + NONCE_TTL_S
        return nonce

    def prepare(self, address: str, domain: str, uri: str, chain_id: int) -> SiweMessage:
        """A fresh message for ``address`` to sign (the client may also build its own)."""
        now = datetime.now(timezone.utc).replace(microsecond=0)
        return SiweMessage(domain, to_checksum_address(address), STATEMENT, uri, "1", chain_id,
                           self.new_nonce(), now, now + timedelta(seconds=NONCE_TTL_S))

    def verify(self, text: str, signature: str, domain: str, chain_id: int) -> tuple[str, Session]:
        """Check message and signature; consume the nonce; return (token, session)."""
        msg = parse_message(text)
        if msg.domain != domain:
            raise SiweError(f"message is for domain {msg.domain!r}, this server is {domain!r}")
        if msg.chain_id != chain_id:
            raise SiweError(f"message is for chain {msg.chain_id}, this server uses {chain_id}")
        now = datetime.now(timezone.utc)
        if msg.expiration_time and msg.expiration_time <= now:
            raise SiweError("the sign-in message has expired")
        if msg.issued_at > now + timedelta(minutes=5):
            raise SiweError("the sign-in message is issued in the future")
        try:
            signer = Account.recover_message(encode_defunct(text=text), signature=signature)
        except Exception as e:  # malformed signature bytes of any kind
            raise SiweError("the signature is malformed") from e
        if signer != msg.address:
            raise SiweError("the signature was not made by the address in the message")
        with self._lock:
            expiry = self._nonces.pop(msg.nonce, None)
            if expiry is None or expiry < time.time():
                raise SiweError("unknown, used or expired nonce: ask for a new one")
            token = secrets.token_urlsafe(32)
            session = Session(msg.address, time.time() + SESSION_TTL_S)
            self._sessions[token] = session
        return token, session

    def session(self, token: str) -> Session | None:
        with self._lock:
            s = self._sessions.get(token)
            if s and s.expires_at < time.time():
                del self._sessions[token]
                return None
            return s

    def end(self, token: str) -> None:
        with self._lock:
            self._sessions.pop(token, None)
