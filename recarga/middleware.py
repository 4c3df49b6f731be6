"""A tiny ASGI middleware: a 405 lists every method the spec allows on that path.

connexion 3.3 lists only one operation's method in ``Allow`` when a path has several.
"""

from __future__ import annotations

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
