"""What every response carries and every request is held to, as ASGI middleware.

- ``SecurityHeaders``: a strict Content-Security-Policy (scripts, styles and connections from
  this origin only, no inline script, no framing), ``X-Content-Type-Options: nosniff``,
  ``X-Frame-Options: DENY`` and ``Referrer-Policy: no-referrer`` on every response, the
  dashboard's static files and error pages included; an unexpected exception answers as a
  500 problem (with the headers) instead of a bare text page.
- ``SameOriginWrites``: a browser write (POST, PUT, PATCH, DELETE) is accepted only from the
  dashboard's origin (``ZKPOT_SIWE_URI``), by its ``Origin`` and ``Sec-Fetch-Site`` headers:
  with the SameSite=Strict session cookie this closes cross-site request forgery. Clients that
  are not browsers send neither header and are not affected.
- ``BodyLimit``: a request body over the limit is cut off while streaming and answered with a
  413 problem, whatever the route was doing with it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
from http import HTTPStatus

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import PROBLEM_MEDIA_TYPE

log = logging.getLogger("zkpot.api")

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "font-src 'self'; connect-src 'self'; manifest-src 'self'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")
HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
}
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


async def send_problem(send: Send, status: int, detail: str) -> None:
    """A problem+json response with the security headers (for middleware, below routing)."""
    body = json.dumps({"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status,
                       "detail": detail}).encode()
    headers = [(b"content-type", PROBLEM_MEDIA_TYPE.encode()), (b"content-length", str(len(body)).encode())]
    headers += [(k.encode(), v.encode()) for k, v in HEADERS.items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class SecurityHeaders:
    """Adds ``HEADERS`` to every HTTP response that does not set its own; 500s as problems."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k.encode(), v.encode()) for k, v in HEADERS.items() if k.encode() not in present]
                message = {**message, "headers": list(message.get("headers", [])) + extra}
            await send(message)

        try:
            await self.app(scope, receive, with_headers)
        except Exception:
            log.exception("unexpected error in %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            await send_problem(send, 500, "unexpected server error; the API log has the details")


class SameOriginWrites:
    """Refuses browser writes that do not come from the dashboard's own origin (403)."""

    def __init__(self, app: ASGIApp, origin: str) -> None:
        self.app = app
        self.origin = origin.rstrip("/").lower()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in UNSAFE_METHODS:
            headers = {k.decode().lower(): v.decode("latin-1") for k, v in scope["headers"]}
            origin = headers.get("origin")
            site = headers.get("sec-fetch-site")
            if origin is not None and origin.rstrip("/").lower() != self.origin:
                await send_problem(send, 403, f"cross-site request refused: writes are accepted from "
                                              f"{self.origin} only (Origin {origin!r})")
                return
            if site is not None and site not in ("same-origin", "none"):
                await send_problem(send, 403, f"cross-site request refused (Sec-Fetch-Site {site!r})")
                return
        await self.app(scope, receive, send)


class _TooLarge(Exception):
    pass


class BodyLimit:
    """Caps every request body at ``max_bytes``: 413 problem before or while it streams."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _detail(self) -> str:
        return (f"the request body is over the limit of {self.max_bytes} bytes "
                "(a dataset file and the form fields; see ZKPOT_MAX_UPLOAD_BYTES)")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await send_problem(send, 413, self._detail())
            return
        total, exceeded, started = 0, False, False

        async def limited() -> Message:
            nonlocal total, exceeded
            message = await receive()
            if message["type"] == "http.request":
                total += len(message.get("body", b""))
                if total > self.max_bytes:
                    exceeded = True
                    raise _TooLarge
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if exceeded:  # whatever the route made of the cut-off body is not sent
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited, guarded)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await send_problem(send, 413, self._detail())


def _inline_script_hashes(html: str) -> list[str]:
    scripts = re.findall(r"<script>(.*?)</script>", html, flags=re.S)
    return ["'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
            for s in scripts]


def install_docs(app, title: str) -> None:
    """``/docs`` (Swagger UI) with a CSP of its own: its CDN and the hash of its one inline script."""
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.responses import HTMLResponse

    page = get_swagger_ui_html(openapi_url=app.openapi_url, title=f"{title} API").body.decode()
    csp = ("default-src 'none'; script-src https://cdn.jsdelivr.net " + " ".join(_inline_script_hashes(page))
           + "; style-src https://cdn.jsdelivr.net 'unsafe-inline'; img-src 'self' data: "
           "https://fastapi.tiangolo.com; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(page, headers={"content-security-policy": csp})
