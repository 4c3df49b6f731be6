"""The service context of this process, set once by the app factory."""

from __future__ import annotations

from service.company.context import Context

_current: Context | None = None


def install(ctx: Context) -> None:
    global _current
    _current = ctx


def current() -> Context:
    if _current is None:
        raise RuntimeError("handlers used before the app factory installed a context")
    return _current
