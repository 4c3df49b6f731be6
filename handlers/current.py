"""The company a request is served for: the context its app was built with.

Each company app sets it for its requests (``recarga.middleware.CompanyScope``), so several
companies can be served from one process (the integration tests run a federation so). There is
no process-wide default: outside a request there is no company to answer."""

from __future__ import annotations

from contextvars import ContextVar

from service.company.context import Context

_request: ContextVar[Context | None] = ContextVar("recarga_company", default=None)


def serving(ctx: Context):
    """Make ``ctx`` the company of the request being served in this context (a token for
    ``done``)."""
    return _request.set(ctx)


def done(token) -> None:
    _request.reset(token)


def current() -> Context:
    ctx = _request.get()
    if ctx is None:
        raise RuntimeError("handlers called outside a request served by a company app")
    return ctx
