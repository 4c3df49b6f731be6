"""The app factory: binds openapi/openapi.yaml to handlers/ and wires the service context."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import connexion
from connexion.middleware import MiddlewarePosition
from connexion.options import SwaggerUIOptions
from connexion.resolver import Resolver
from connexion.utils import get_function_from_name
from starlette.middleware.gzip import GZipMiddleware

import console
import recarga
from booking.clock import clock_from
from booking.errors import DomainError
from federation import PeerClient
from federation.client import Transport
from handlers import problems
from network.reference import load_reference
from recarga import validators
from recarga.config import Config
from recarga.middleware import (
    AllowHeaderMiddleware,
    BodyGuard,
    CompanyScope,
    Console,
    ControlCharacterGuard,
)
from recarga.operations import decorate_once
from recarga.wsgi import inline_handlers
from service.catalogs.peer_catalogs import PeerCatalogs
from service.company.context import Context, Timing
from service.company.faults import Faults
from service.protocol import coordinator, participant
from service.protocol.gateway import Gateway
from service.protocol.outbox import Outbox
from storage import Store

SPEC = Path(__file__).resolve().parent.parent / "openapi" / "openapi.yaml"

log = logging.getLogger(__name__)


def build_context(
    config: Config,
    store: Store | None = None,
    transport: Transport | None = None,
    **adapters,
) -> Context:
    """The service context of one company. ``adapters``: what the adapters give the use cases
    (``notify`` to push to cars, ``mqtt_status``), passed in, never patched afterwards;
    ``transport``: how its peer client reaches other companies (the network by default)."""
    store = store or Store(config.database_url, pool_size=config.db_pool)
    timing = Timing(
        prepare_timeout=config.prepare_timeout,
        hold_seconds=config.hold_seconds,
        in_doubt_seconds=config.in_doubt_seconds,
        recovery_interval=config.recovery_interval,
        catalog_sync=config.catalog_sync,
    )
    ctx = Context(
        company=config.company,
        store=store,
        reference=load_reference(),
        public_url=config.public_url,
        admin_token=config.admin_token,
        registration_token=config.registration_token,
        version=recarga.__version__,
        timing=timing,
        faults=Faults(config.test_faults, config.test_fault_dir),
        clock=clock_from(config.demo_clock),
        client=PeerClient(
            timeout=config.prepare_timeout,
            max_connections=config.threads + 8,
            transport=transport,
        ),
        # every request thread may wait on one call per peer at once (a booking's
        # prepares): a smaller pool would queue prepares behind each other until
        # their deadline passed, and an overloaded server would stop serving at all
        pool=ThreadPoolExecutor(max_workers=2 * config.threads + 8, thread_name_prefix="peer"),
        **adapters,
    )
    return wire(ctx)


def wire(ctx: Context) -> Context:
    """Give the context its gateway, holding this company's two local roles, and the outbox
    that sends phase two after the answer."""
    ctx.gateway = Gateway(participant, coordinator)
    ctx.outbox = Outbox(coordinator.deliver, coordinator.log_acks)
    ctx.catalogs = PeerCatalogs(interval=ctx.timing.catalog_sync)
    return ctx


def create_app(config: Config, ctx: Context, handlers_inline: bool = True) -> connexion.AsyncApp:
    """A connexion app for one company's context, to be served by ``recarga.wsgi`` (each
    waitress worker thread runs it on its own event loop). Start-up work happens in the
    composition root (recarga/bootstrap.py).

    ``AsyncApp``, not ``FlaskApp``: one ASGI stack instead of ASGI middleware bridged back to
    a WSGI Flask app; the same contract and handlers, measured 15-25 % less CPU per request
    (docs/performance.md). Handlers are plain blocking functions, run inline on the request's
    thread (``inline_handlers``): on one shared event loop they would block every request.
    ``handlers_inline=False`` leaves them to connexion's worker threads, for an app served on
    one shared loop (a2wsgi; ``bench/http_bridge.py`` compares the two).
    """
    inline = inline_handlers if handlers_inline else (lambda function: function)
    app = decorate_once(connexion.AsyncApp(__name__, specification_dir=str(SPEC.parent)))
    app.add_api(
        SPEC.name,
        strict_validation=True,
        pythonic_params=True,  # the query parameter "from" arrives as from_
        validate_responses=config.validate_responses,
        swagger_ui_options=SwaggerUIOptions(swagger_ui=True, swagger_ui_path="/ui"),
        validator_map=validators.validator_map(),  # the contract's patterns as ECMA-262
        resolver=Resolver(function_resolver=lambda name: inline(get_function_from_name(name))),
    )
    app.add_error_handler(DomainError, inline(problems.domain_error))
    app.add_error_handler(UnicodeDecodeError, inline(problems.undecodable_body))
    app.add_middleware(ControlCharacterGuard, position=MiddlewarePosition.BEFORE_EXCEPTION)
    app.add_middleware(BodyGuard, position=MiddlewarePosition.BEFORE_EXCEPTION)
    app.add_middleware(
        AllowHeaderMiddleware, position=MiddlewarePosition.BEFORE_EXCEPTION, spec_path=str(SPEC)
    )
    # catalogs and availability answers are JSON that compresses ~10x (clients ask with
    # Accept-Encoding: gzip; httpx, browsers and newman do). Level 5, not Starlette's 9:
    # on 600 KB of JSON, 9 took 36 ms of CPU for 11 % fewer bytes than 5 took in 8 ms
    app.add_middleware(
        GZipMiddleware,
        position=MiddlewarePosition.BEFORE_EXCEPTION,
        minimum_size=2048,
        compresslevel=5,
    )
    app.add_middleware(
        Console, position=MiddlewarePosition.BEFORE_EXCEPTION, directory=str(console.STATIC)
    )
    app.add_middleware(CompanyScope, position=MiddlewarePosition.BEFORE_EXCEPTION, ctx=ctx)
    return app
