"""A tiny ASGI middleware: a 405 lists every method the spec allows on that path.

connexion 3.3 lists only one operation's method in ``Allow`` when a path has several.
"""

from __future__ import annotations

import json
import re

import yaml

_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


class AllowHeaderMiddleware:
    def __init__(self, app, spec_path: str, base_path: str = "/api/v1"):
        self.app = app
        with open(spec_path, encoding="utf-8") as fh:
            spec = yaml.safe_load(fh)
        self.routes = []
        for path, item in spec["paths"].items():
            pattern = re.sub(r"\{[^/}]+\}", "[^/]+", path)
            methods = sorted(m.upper() for m in item if m in _METHODS)
            self.routes.append((re.compile(f"^{re.escape(base_path)}{pattern}/?$"), methods))

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        allowed = next((m for rx, m in self.routes if rx.match(scope["path"])), None)

        async def send_wrapper(message):
            if (allowed and message["type"] == "http.response.start"
                    and message["status"] == 405):
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"]
                headers.append((b"allow", ", ".join(allowed).encode()))
                message = {**message, "headers": headers}
            await send(message)

        return await self.app(scope, receive, send_wrapper)


class ControlCharacterGuard:
    """Refuse (400 problem+json) a path holding control characters such as a newline.

    Connexion's router and Flask's disagree on such paths (a ``$`` in a pattern matches before a
    trailing newline), which otherwise ends in a 500 outside any operation context.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and any(ord(ch) < 0x20 or ord(ch) == 0x7F
                                           for ch in scope.get("path", "")):
            body = json.dumps({"type": "about:blank", "title": "Bad Request", "status": 400,
                               "detail": "the path holds control characters"}).encode()
            await send({"type": "http.response.start", "status": 400,
                        "headers": [(b"content-type", b"application/problem+json"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)
