"""``recarga serve`` and ``recarga seed``."""

from __future__ import annotations

import argparse
import logging
import os
import random
import sys

from recarga.config import Config, ConfigError


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["drive"]:  # a driver needs no server configuration
        from recarga.drive import main as drive

        return drive(argv[1:])
    parser = argparse.ArgumentParser(prog="recarga", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run this company's server (configured by RECARGA_* variables)")
    sub.add_parser("drive", help="plan and book a trip over MQTT, as a driver", add_help=False)
    seed = sub.add_parser("seed", help="create random realistic stations for this company")
    seed.add_argument("--seed", type=int, default=None, help="random seed (repeatable runs)")
    seed.add_argument("--share", type=float, default=0.6,
                      help="share of the network's places that get a station (0–1)")
    seed.add_argument("--places", default="",
                      help="comma-separated place ids instead of a random share")
    seed.add_argument("--if-empty", action="store_true",
                      help="do nothing when this company has stations already (container starts)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per peer call is noise
    try:
        config = Config.from_env()
    except ConfigError as exc:
        print(f"recarga: {exc}", file=sys.stderr)
        return 2
    if args.command == "serve":
        return serve(config)
    return seed_command(config, args)


def serve(config: Config) -> int:
    from recarga.bootstrap import CompanyServer

    CompanyServer(config).start().stop_on_signals().serve()
    # Past the drain bound a request may still sit in a worker thread (waiting on a peer);
    # the interpreter would wait for it at exit. Its transaction is in the log: end here.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def seed_command(config: Config, args) -> int:
    from recarga.app import build_context
    from service.seed import seed_company

    ctx = build_context(config)
    if args.if_empty:
        with ctx.store.connection():
            _, existing = ctx.store.list_stations(limit=1)
        if existing:
            print(f"company {config.company}: {existing} stations already; not seeding")
            return 0
    places = [p for p in args.places.split(",") if p] or None
    made = seed_company(ctx, random.Random(args.seed), share=args.share, places=places)
    connectors = sum(len(s.connectors) for s in made)
    print(f"company {config.company}: created {len(made)} stations with {connectors} connectors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
