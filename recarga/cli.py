"""``recarga``: one entry for every role of the image — ``serve`` (a company server), ``seed``
(random stations), ``simulate`` (the car and station simulator), ``accounts`` (the broker's
per-device credentials), ``certs`` (the broker's TLS certificate), ``healthcheck`` and ``drive`` (a person driving over MQTT)."""

from __future__ import annotations

import argparse
import logging
import os
import random
import sys

from recarga.config import Config, ConfigError


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # roles that need no server configuration, each with its own options
    if argv[:1] == ["drive"]:
        from recarga.drive import main as drive

        return drive(argv[1:])
    if argv[:1] == ["simulate"]:
        from carsim.run import main as simulate

        return simulate(argv[1:])
    if argv[:1] == ["accounts"]:
        from mqtt.accounts import main as accounts

        return accounts(argv[1:])
    if argv[:1] == ["certs"]:
        from mqtt.certs import main as certs

        return certs(argv[1:])
    if argv[:1] == ["healthcheck"]:
        from recarga.healthcheck import main as healthcheck

        return healthcheck()
    parser = argparse.ArgumentParser(prog="recarga", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve_parser = sub.add_parser(
        "serve", help="run this company's server (configured by RECARGA_* variables)"
    )
    serve_parser.add_argument(
        "--seed-if-empty",
        type=int,
        metavar="SEED",
        default=None,
        help="first create random stations (as `seed --seed SEED --if-empty`), then serve",
    )
    sub.add_parser("drive", help="plan and book a trip over MQTT, as a driver", add_help=False)
    sub.add_parser("simulate", help="the car and station simulator (carsim)", add_help=False)
    sub.add_parser(
        "accounts",
        help="the broker's per-device credentials: init, add, revoke, list",
        add_help=False,
    )
    sub.add_parser(
        "certs", help="the federation's CA and the broker's TLS certificate", add_help=False
    )
    sub.add_parser("healthcheck", help="exit 0 when this container's server is healthy")
    seed = sub.add_parser("seed", help="create random realistic stations for this company")
    seed.add_argument("--seed", type=int, default=None, help="random seed (repeatable runs)")
    seed.add_argument(
        "--share",
        type=float,
        default=0.6,
        help="share of the network's places that get a station (0–1)",
    )
    seed.add_argument(
        "--places", default="", help="comma-separated place ids instead of a random share"
    )
    seed.add_argument(
        "--cover",
        default=None,
        metavar="K/N",
        help="also every K-th place of N, so that N companies seeded with "
        "K = 0 … N-1 leave no place without a station (the demo)",
    )
    seed.add_argument(
        "--if-empty",
        action="store_true",
        help="do nothing when this company has stations already (container starts)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per peer call is noise
    try:
        config = Config.from_env()
    except ConfigError as exc:
        print(f"recarga: {exc}", file=sys.stderr)
        return 2
    from storage.database import DatabaseUnreachable

    try:
        if args.command == "serve":
            if args.seed_if_empty is not None:
                seed_stations(config, args.seed_if_empty, if_empty=True)
            return serve(config)
        cover = None
        if args.cover:
            try:
                k, n = (int(x) for x in args.cover.split("/"))
                if not 0 <= k < n:
                    raise ValueError
            except ValueError:
                print(
                    f"recarga: --cover wants K/N with 0 ≤ K < N, not {args.cover!r}",
                    file=sys.stderr,
                )
                return 2
            cover = (k, n)
        return seed_stations(
            config,
            args.seed,
            share=args.share,
            places=[p for p in args.places.split(",") if p] or None,
            if_empty=args.if_empty,
            cover=cover,
        )
    except DatabaseUnreachable as exc:
        print(f"recarga: {exc}", file=sys.stderr)
        return 2


def serve(config: Config) -> int:
    from recarga.bootstrap import CompanyServer

    CompanyServer(config).start().stop_on_signals().serve()
    # Past the drain bound a request may still sit in a worker thread (waiting on a peer);
    # the interpreter would wait for it at exit. Its transaction is in the log: end here.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def seed_stations(
    config: Config,
    seed: int | None,
    share: float = 0.6,
    places: list[str] | None = None,
    if_empty: bool = False,
    cover: tuple[int, int] | None = None,
) -> int:
    """``recarga seed`` (and ``serve --seed-if-empty``): random realistic stations."""
    from recarga.app import build_context
    from service.catalogs.seed import seed_company

    ctx = build_context(config)
    try:
        if if_empty:
            with ctx.store.connection():
                _, existing = ctx.store.list_stations(limit=1)
            if existing:
                print(f"company {config.company}: {existing} stations already; not seeding")
                return 0
        made = seed_company(ctx, random.Random(seed), share=share, places=places, cover=cover)
    finally:
        ctx.store.close()
    connectors = sum(len(s.connectors) for s in made)
    print(f"company {config.company}: created {len(made)} stations with {connectors} connectors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
