"""The company a request is served for: the context its app was built with.

Each company app sets it for its requests (``recarga.app.create_app``), so several companies
can be served from one process (the integration tests run a federation so); ``install`` gives
the process's default, what code outside a request reaches (one company per process in
production)."""

from __future__ import annotations

from contextvars import ContextVar

from service.company.context import Context

_default: Context | None = None
_request: ContextVar[Context | None] = ContextVar("recarga_company", default=None)


def install(ctx: Context) -> None:
    global _default
    _default = ctx


def serving(ctx: Context):
    """Make ``ctx`` the company of the request being served in this context (a token for
    ``done``)."""
    return _request.set(ctx)


def done(token) -> None:
    _request.reset(token)


def current() -> Context:
    ctx = _request.get() or _default
    if ctx is None:
        raise RuntimeError("handlers used before the app factory installed a context")
    return ctx
