"""What this process keeps in memory, kept coherent with the company's other processes.

A process keeps the peers (with their tokens), its copies of the peers' catalogs and the
driver credentials it has seen in memory. Whatever process changes one of them tells the others
through the database (``ctx.store.announce``: PostgreSQL's NOTIFY, ``storage/changes.py``), and
each drops or refreshes its copy when told: a peer's new station, reported to one process, is
in every process's copy within a catalog round trip; a new peer within a moment. A process that
lost its listening connection refreshes everything when it is back.
"""

from __future__ import annotations

from service.company.context import Context


def listen(ctx: Context) -> None:
    ctx.store.changes.subscribe(lambda kind, argument: on_change(ctx, kind, argument))


def on_change(ctx: Context, kind: str, argument: str) -> None:
    everything = kind == "*"
    if kind == "peers" or everything:
        ctx.peers(refresh=True)
    if kind == "catalog" and argument:
        ctx.catalogs.nudge(argument)
    elif everything:
        for company in ctx.peers():
            ctx.catalogs.nudge(company)
    if kind == "drivers" or everything:
        ctx.driver_tokens.clear()


def peer_catalog_changed(ctx: Context, company: str) -> None:
    """A peer said its catalog changed: every process of this company catches up with it."""
    ctx.catalogs.nudge(company)
    ctx.store.announce("catalog", company)


def peers_changed(ctx: Context) -> None:
    ctx.peers(refresh=True)
    ctx.store.announce("peers")
