"""Who may call what, and how much they may send: an ASGI guard in front of the app.

- Every request that changes state (any method but GET, HEAD and OPTIONS) needs
  ``Authorization: Bearer <token>`` with one of the member's tokens: none gives 401
  (with ``WWW-Authenticate: Bearer``), a wrong one 403.
- Read-only requests need a token too unless ``read_open`` (the default).
  ``/healthz`` and ``/readyz`` never do: orchestrators probe them.
- With no token configured at all the interface is open (development only; ``jarvis
  config check`` warns).
- A request body larger than ``max_body`` bytes is refused with 413 before the app
  reads any of it (by its ``Content-Length``, or while it streams in).

Tokens are compared in constant time. Answers use the interface's error shape.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jarvis.api.errors import HTTP_CODES

__all__ = ["HttpGuard", "HttpPolicy"]

_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_PROBES = frozenset({"/healthz", "/readyz"})


@dataclass(frozen=True)
class HttpPolicy:
    """The access rules of a member's HTTP interface (from its settings)."""

    tokens: Sequence[str] = ()
    read_open: bool = True
    max_body: int = 1 << 20

    def check(self, method: str, path: str, authorization: str | None) -> tuple[int, str] | None:
        """None if allowed, else (status, reason)."""
        if path in _PROBES or not self.tokens:
            return None
        if method in _READ_METHODS and self.read_open:
            return None
        if not authorization:
            return 401, "a bearer token is required"
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return 401, "the Authorization header must be 'Bearer <token>'"
        supplied = token.strip().encode()
        if any(hmac.compare_digest(supplied, t.encode()) for t in self.tokens):
            return None
        return 403, "the bearer token is not valid"


class HttpGuard:
    """ASGI middleware applying an :class:`HttpPolicy`."""

    def __init__(self, app: ASGIApp, policy: HttpPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        refused = self.policy.check(scope["method"], scope["path"], headers.get("authorization"))
        if refused is not None:
            await _answer(send, *refused, www_authenticate=refused[0] == 401)
            return
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > self.policy.max_body:
            await _answer(send, 413, f"request body over {self.policy.max_body} bytes")
            return
        # Read the (bounded) body here, then replay it to the app.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.policy.max_body:
                await _answer(send, 413, f"request body over {self.policy.max_body} bytes")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _answer(send: Send, status: int, reason: str, www_authenticate: bool = False) -> None:
    code = HTTP_CODES.get(status, "bad_request")
    payload = json.dumps({"code": code, "error": reason, "detail": None}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
    ]
    if www_authenticate:
        headers.append((b"www-authenticate", b'Bearer realm="jarvis"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
