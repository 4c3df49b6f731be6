"""connexion's operations with their decorators built once, not on every request.

connexion 3's ``AsyncOperation.fn`` builds a new decorator for the handler on each request,
and that decorator's wrapper decorates the handler again and builds a new URI parser on each
call: ``inspect.signature`` of the handler, ``functools.wraps`` three times, the parameter
definitions copied into a parser — about 5 % of a participant's time per peer message
(docs/performance.md). None of it depends on the request: the decorators depend on the
handler, the parser on the operation, and one ``AsyncOperation`` serves one operation. Here
both are built once per operation (the parser at the first request, where connexion's
``operation`` context is set) and requests only run them.
"""

from __future__ import annotations

import functools
from typing import Any

from connexion import AsyncApp
from connexion.apps.asynchronous import AsyncApi, AsyncOperation
from connexion.context import receive, scope
from connexion.decorators import StarletteDecorator


class _DecoratedOnce(StarletteDecorator):
    @functools.cached_property
    def uri_parser(self):
        """The operation's URI parser, built at the first request (it reads connexion's
        ``operation`` context; two first requests at once build two alike: either serves)."""
        return super().uri_parser

    def __call__(self, function):
        decorated = self.decorate(function)

        @functools.wraps(function)
        async def wrapper(*args: Any, **kwargs: Any):
            request = self.framework.get_request(
                uri_parser=self.uri_parser, scope=scope, receive=receive
            )
            return await decorated(request)

        return wrapper


class _Operation(AsyncOperation):
    @functools.cached_property
    def fn(self):
        return _DecoratedOnce(pythonic_params=self.pythonic_params, jsonifier=self.jsonifier)(
            self._fn
        )


class _Api(AsyncApi):
    def make_operation(self, spec_operation) -> AsyncOperation:
        return _Operation.from_operation(
            spec_operation, pythonic_params=self.pythonic_params, jsonifier=self.jsonifier
        )


def decorate_once(app: AsyncApp) -> AsyncApp:
    """Make the APIs ``app`` adds from now on build each operation's decorators once."""
    app._middleware_app.api_cls = _Api  # noqa: SLF001 — connexion's one seam for its API class
    return app
