"""Sign-In with Ethereum (EIP-4361): wallet signatures instead of passwords.

The server hands out single-use nonces bound to the address they were asked for; the wallet
signs the EIP-4361 message with ``personal_sign``; the server checks the domain and URI
against its configuration (``ZKPOT_SIWE_DOMAIN`` / ``ZKPOT_SIWE_URI``, never the request's
Host header, so a phishing site cannot relay a sign-in for this one), the chain, the nonce and
its address, the validity window and the recovered signer, then issues an opaque session
token. Nonces and sessions are kept in Redis (``ZKPOT_REDIS_URL``) with their expiry, so they
survive an API restart and are shared by every API process; only a hash of each token is
stored.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import is_checksum_address, to_checksum_address

NONCE_TTL_S = 600
# nonces issued a minute, by everyone: at most this times NONCE_TTL_S / 60 are ever outstanding
# (found by an attack: an unauthenticated flood of nonce requests grew Redis without bound)
NONCES_PER_MINUTE = 600
NONCES_PER_CLIENT_MINUTE = 120   # one client (IP address); behind a proxy every client is the proxy
KEY_PREFIX = "zkpot:siwe:"
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


class SessionStoreDown(RuntimeError):
    """Redis, where nonces and sessions are kept, does not answer."""


class NoncesExhausted(RuntimeError):
    """This minute's nonces are all issued; ``retry_after`` seconds until the next minute."""

    def __init__(self, retry_after: int, cap: int):
        super().__init__(f"too many sign-ins were started this minute (at most {cap}); "
                         f"try again in {retry_after} s")
        self.retry_after = retry_after


class SiweAuthority:
    """Issues nonces, verifies signed messages and keeps the resulting sessions (in Redis)."""

    def __init__(self, redis, domain: str, uri: str, session_ttl_s: int = 12 * 3600,
                 prefix: str = KEY_PREFIX) -> None:
        self.redis = redis
        self.domain = domain
        self.uri = uri
        self.session_ttl_s = session_ttl_s
        self.prefix = prefix

    def _call(self, op):
        from redis.exceptions import RedisError

        try:
            return op()
        except RedisError as e:
            raise SessionStoreDown(f"the session store does not answer: {e}") from e

    def _session_key(self, token: str) -> str:
        return self.prefix + "session:" + hashlib.sha256(token.encode()).hexdigest()

    def new_nonce(self, address: str, client: str | None = None) -> str:
        """A single-use nonce that only ``address`` can sign in with (10 minutes). At most
        ``NONCES_PER_CLIENT_MINUTE`` a minute for one client (its IP address), and
        ``NONCES_PER_MINUTE`` for everyone: one client's flood does not lock the others out
        (found by an attack on the global bound alone)."""
        now = time.time()
        minute = int(now // 60)
        windows = [(self.prefix + f"nonces:{minute}", NONCES_PER_MINUTE)]
        if client:
            windows.insert(0, (self.prefix + f"nonces:{minute}:{hashlib.sha256(client.encode()).hexdigest()[:16]}",
                               NONCES_PER_CLIENT_MINUTE))
        for key, cap in windows:
            issued = self._call(lambda key=key: self.redis.incr(key))
            if issued == 1:
                self._call(lambda key=key: self.redis.expire(key, 120))
            if issued > cap:
                raise NoncesExhausted(60 - int(now % 60), cap)
        nonce = secrets.token_hex(12)
        self._call(lambda: self.redis.set(self.prefix + "nonce:" + nonce, to_checksum_address(address),
                                          ex=NONCE_TTL_S))
        return nonce

    def prepare(self, address: str, chain_id: int, client: str | None = None) -> SiweMessage:
        """A fresh message for ``address`` to sign (the client may also build its own)."""
        now = datetime.now(timezone.utc).replace(microsecond=0)
        return SiweMessage(self.domain, to_checksum_address(address), STATEMENT, self.uri, "1",
                           chain_id, self.new_nonce(address, client), now, now + timedelta(seconds=NONCE_TTL_S))

    def verify(self, text: str, signature: str, chain_id: int) -> tuple[str, Session]:
        """Check message and signature; consume the nonce; return (token, session)."""
        msg = parse_message(text)
        if msg.domain != self.domain:
            raise SiweError(f"message is for domain {msg.domain!r}, this server is {self.domain!r}")
        if msg.uri.rstrip("/") != self.uri:
            raise SiweError(f"message is for URI {msg.uri!r}, this server is {self.uri!r}")
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
        key = self.prefix + "nonce:" + msg.nonce
        bound = self._call(lambda: self.redis.get(key))
        if bound is not None and bound != msg.address:
            # refused without consuming it: the address it was issued for can still use it
            raise SiweError("the nonce was issued for another address: ask for a new one")
        if bound is None or self._call(lambda: self.redis.getdel(key)) is None:
            raise SiweError("unknown, used or expired nonce: ask for a new one")
        token = secrets.token_urlsafe(32)
        session = Session(msg.address, time.time() + self.session_ttl_s)
        record = json.dumps({"address": session.address, "expires_at": session.expires_at})
        self._call(lambda: self.redis.set(self._session_key(token), record, ex=self.session_ttl_s))
        return token, session

    def session(self, token: str) -> Session | None:
        """The live session of ``token``, or None."""
        raw = self._call(lambda: self.redis.get(self._session_key(token)))
        if raw is None:
            return None
        data = json.loads(raw)
        if data["expires_at"] < time.time():
            return None
        return Session(data["address"], float(data["expires_at"]))

    def end(self, token: str) -> None:
        self._call(lambda: self.redis.delete(self._session_key(token)))
