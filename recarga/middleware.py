"""Small ASGI middlewares around connexion: what it leaves to the application.

- every request is served for its app's company (``handlers.current``);
- a 405 lists every method the spec allows on that path (connexion 3.3 lists only one);
- a path with control characters is a 400, not a 500;
- a body too large is a 413, and JSON with NaN or deep nesting is a 400;
- ``/console/`` serves the browser console's static files.
"""

from __future__ import annotations

import json
import re

import yaml
from starlette.responses import RedirectResponse
from starlette.staticfiles import StaticFiles

from booking.errors import BadInput, problem
from handlers import current
from service.company import inputs

_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


class CompanyScope:
    """Serve each request for this app's company: what ``handlers.current.current()``
    answers while it runs, so two company apps can share one process."""

    def __init__(self, app, ctx):
        self.app = app
        self.ctx = ctx

    async def __call__(self, scope, receive, send):
        token = current.serving(self.ctx)
        try:
            return await self.app(scope, receive, send)
        finally:
            current.done(token)


class AllowHeaderMiddleware:
    def __init__(self, app, spec_path: str, base_path: str = "/api/v1"):
        self.app = app
        with open(spec_path, encoding="utf-8") as fh:
            spec = yaml.safe_load(fh)
        self.routes = []
        for path, item in spec["paths"].items():
            pattern = re.sub(r"\{[^/}]+\}", "[^/]+", path)
            methods = sorted(m.upper() for m in item if m in _METHODS)
            self.routes.append((re.compile(f"{re.escape(base_path)}{pattern}/?"), methods))

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_wrapper(message):
            if message["type"] == "http.response.start" and message["status"] == 405:
                message = self._with_allow(scope["path"], message)
            await send(message)

        return await self.app(scope, receive, send_wrapper)

    def _with_allow(self, path: str, message: dict) -> dict:
        """A 405's headers with the path's methods as ``Allow`` (looked up only then: the
        routes' patterns are matched for the rare 405, not for every request)."""
        allowed = next((m for rx, m in self.routes if rx.fullmatch(path)), None)
        if allowed:
            headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"]
            headers.append((b"allow", ", ".join(allowed).encode()))
            message = {**message, "headers": headers}
        return message


class ControlCharacterGuard:
    """Refuse (400 problem+json) a path holding control characters such as a newline.

    Connexion's router and Flask's disagree on such paths (a ``$`` in a pattern matches before a
    trailing newline), which otherwise ends in a 500 outside any operation context.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and any(
            ord(ch) < 0x20 or ord(ch) == 0x7F for ch in scope.get("path", "")
        ):
            await send_problem(send, 400, "Bad Request", "the path holds control characters")
            return
        await self.app(scope, receive, send)


MAX_BODY = 1024 * 1024  # bytes; a larger request body is answered 413


class BodyGuard:
    """Refuse, before any handler runs, a body that is too large (413) or JSON that the
    contract cannot mean (400): NaN or Infinity, nesting deeper than ``inputs.MAX_DEPTH``.

    Python's own JSON reader accepts NaN and recurses once per level, so without this a
    ``"soc": NaN`` or a thousand nested arrays reaches the planner or the stack as a 500.
    """

    def __init__(self, app, max_body: int = MAX_BODY):
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"").strip()
        if declared.isdigit() and int(declared) > self.max_body:
            return await send_problem(
                send,
                413,
                "Payload too large",
                f"a request body may have at most {self.max_body} bytes",
            )
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_body:
                return await send_problem(
                    send,
                    413,
                    "Payload too large",
                    f"a request body may have at most {self.max_body} bytes",
                )
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        if body and b"json" in headers.get(b"content-type", b"").lower():
            try:
                inputs.loads(body)
            except BadInput as exc:
                return await send_problem(send, 400, "Bad Request", f"request body: {exc.detail}")
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)


async def send_problem(send, status: int, title: str, detail: str) -> None:
    """A problem+json answer sent before connexion sees the request."""
    body = json.dumps(problem(status, title, detail)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class Console:
    """The console's static files at ``/console/`` (``/`` leads there), from the package.

    Its pages may load only what this server serves (Content-Security-Policy): no CDN, no
    third-party tiles, and the browser refuses any script that is not one of our files."""

    POLICY = (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'"
    )

    def __init__(self, app, directory: str):
        self.app = app
        self.files = StaticFiles(directory=directory, html=True)

    async def __call__(self, scope, receive, send):
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path in ("/", "/console"):
            return await RedirectResponse("/console/", status_code=307)(scope, receive, send)
        if not path.startswith("/console/"):
            return await self.app(scope, receive, send)

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                message = {
                    **message,
                    "headers": [
                        *message.get("headers", []),
                        (b"content-security-policy", self.POLICY.encode()),
                        (b"x-content-type-options", b"nosniff"),
                        (b"cache-control", b"no-cache"),
                    ],
                }
            await send(message)

        root = scope.get("root_path", "") + "/console"
        return await self.files({**scope, "root_path": root}, receive, send_wrapper)
