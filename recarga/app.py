"""The app factory: binds openapi/openapi.yaml to handlers/ and wires the service context."""

from __future__ import annotations

import logging
from pathlib import Path

import connexion
from connexion.middleware import MiddlewarePosition
from connexion.options import SwaggerUIOptions
from flask import g

import recarga
from booking.errors import DomainError
from handlers import context as handler_context
from handlers import problems
from network.reference import load_reference
from recarga.config import Config
from recarga.middleware import AllowHeaderMiddleware, ControlCharacterGuard
from service.context import Context
from storage import Store

SPEC = Path(__file__).resolve().parent.parent / "openapi" / "openapi.yaml"

log = logging.getLogger(__name__)


def build_context(config: Config, store: Store | None = None) -> Context:
    store = store or Store(config.database_url)
    store.bind()
    return Context(company=config.company, store=store, reference=load_reference(),
                   public_url=config.public_url, admin_token=config.admin_token,
                   version=recarga.__version__)


def create_app(config: Config, ctx: Context | None = None) -> connexion.FlaskApp:
    """A connexion app for one company. Start-up work happens here: ASGI lifespan events
    never fire under waitress + a2wsgi."""
    ctx = ctx or build_context(config)
    handler_context.install(ctx)

    app = connexion.FlaskApp(__name__, specification_dir=str(SPEC.parent))
    app.add_api(
        SPEC.name,
        strict_validation=True,
        validate_responses=config.validate_responses,
        swagger_ui_options=SwaggerUIOptions(swagger_ui=True, swagger_ui_path="/ui"),
    )
    app.add_error_handler(DomainError, problems.domain_error)
    app.add_error_handler(UnicodeDecodeError, problems.undecodable_body)
    flask_app = app.app
    flask_app.register_error_handler(DomainError, _flask_domain_error)

    # peewee keeps one connection per thread; views run in connexion's worker threads, so the
    # connection is opened and returned in the same thread as the view.
    @flask_app.before_request
    def _open_db():
        g.recarga_conn = ctx.store.db.connection_context()
        g.recarga_conn.__enter__()

    @flask_app.teardown_request
    def _close_db(_exc):
        conn = g.pop("recarga_conn", None)
        if conn is not None:
            conn.__exit__(None, None, None)

    app.add_middleware(ControlCharacterGuard, position=MiddlewarePosition.BEFORE_EXCEPTION)
    app.add_middleware(AllowHeaderMiddleware, position=MiddlewarePosition.BEFORE_EXCEPTION,
                       spec_path=str(SPEC))
    app.recarga_context = ctx
    return app


def _flask_domain_error(exc: DomainError):
    resp = problems.domain_error(None, exc)
    return resp.body, resp.status_code, {"Content-Type": "application/problem+json"}
