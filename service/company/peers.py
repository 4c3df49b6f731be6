"""Peer registration: a credentials handshake in the spirit of OCPI's.

An admin of company A posts ``{url, registration_token}`` to A. A makes a fresh token T_ba for B
to present to A, calls B's ``POST /peers`` with the registration token and
``{company: a, url, token: T_ba}``; B stores it, makes T_ab for A to present to B and answers
with it. Posting again rotates both tokens; the previous incoming token stays valid until the
next rotation, so calls in flight and two servers registering with each other at the same time
both keep working. Tokens are stored only as hashes on the receiving side.
"""

from __future__ import annotations

import logging
import secrets
import threading
from functools import partial
from urllib.parse import urlparse

from booking.errors import Conflict, InvalidRequest, NotFound, PeerUnavailable, Unauthorized
from booking.model import utcnow
from booking.times import iso
from federation import PeerError
from service.company import coherence, fanout
from service.company.context import Context

log = logging.getLogger(__name__)


def _new_token() -> str:
    return secrets.token_urlsafe(32)


def _server_url(url: str) -> str:
    """An absolute http(s) URL with a host, without a trailing slash; ``InvalidRequest`` else."""
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise InvalidRequest(f"a server URL must be an absolute http(s) URL, not {url!r}")
    if parsed.query or parsed.fragment or parsed.username or parsed.password:
        raise InvalidRequest("a server URL carries no query, fragment or credentials")
    return url.rstrip("/")


def register(ctx: Context, url: str, registration_token: str | None = None) -> dict:
    """Admin: register with the server at ``url``. Returns the peer's public description."""
    url = _server_url(url)
    token = registration_token or ctx.registration_token
    if not token:
        raise InvalidRequest(
            "give registration_token (the other server's registration or "
            "admin token), or set RECARGA_REGISTRATION_TOKEN"
        )
    mine = _new_token()  # what the peer presents to us
    offer = {"company": ctx.company, "url": ctx.public_url, "token": mine}
    known = next((p for p in ctx.peers(refresh=True).values() if p["url"] == url), None)
    if known is not None:  # re-registering: prove we are the company it knows
        offer["current_token"] = known["token_out"]
    try:
        reply = ctx.client.call(
            url, "POST", "/peers", token=token, json=offer, timeout=ctx.timing.peer_timeout
        )
    except PeerError as exc:
        raise PeerUnavailable(f"registration failed: {exc}") from exc
    if reply.status == 401:
        raise Unauthorized(f"{url} refused the registration token")
    if reply.status == 409:
        raise Conflict(f"{url} refused the handshake: {reply.body.get('detail', '')}")
    if reply.status != 201:
        raise PeerUnavailable(
            f"{url} answered {reply.status} to the handshake: {reply.body.get('detail', '')}"
        )
    try:
        company, theirs = str(reply.body["registered_at"]), str(reply.body["token"])
    except KeyError as exc:
        raise PeerUnavailable(f"{url} answered the handshake without {exc}") from exc
    if str(reply.body.get("company")) != ctx.company:
        raise PeerUnavailable(
            f"{url} answered the handshake for another company "
            f"({reply.body.get('company')!r}, not {ctx.company!r})"
        )
    if company == ctx.company:
        raise InvalidRequest(f"{url} is this company ({company}) itself")
    with ctx.store.transaction():
        ctx.store.save_peer(company, url, token_in=mine, token_out=theirs)
        ctx.store.note_peer_contact(company, None)
    coherence.peers_changed(ctx)
    log.info("registered peer %s at %s", company, url)
    ctx.catalogs.nudge(company)  # copy its catalog now, not at the next round
    return {
        "company": company,
        "url": url,
        "reachable": True,
        "last_ok_at": iso(utcnow()),
        "last_error": None,
    }


def accept(
    ctx: Context, company: str, url: str, token_to_present: str, current_token: str | None = None
) -> dict:
    """The other half: a server registers with us. Returns our credentials for it.

    A company already registered here must prove it is that company (``current_token``: the
    token it presents here now); the shared registration secret alone never replaces one.
    """
    if company == ctx.company:
        raise InvalidRequest(f"company id {company!r} is this server's own")
    url = _server_url(url)
    mine = _new_token()
    if not ctx.store.accept_peer(
        company, url, token_in=mine, token_out=token_to_present, proof=current_token
    ):
        raise Conflict(
            f"company {company} is registered here already: re-registering needs "
            f"its current token ('current_token'), or an admin of this server "
            f"removes it first (DELETE /peers/{company})"
        )
    with ctx.store.transaction():
        ctx.store.note_peer_contact(company, None)
    coherence.peers_changed(ctx)
    log.info("accepted peer %s at %s", company, url)
    ctx.catalogs.nudge(company)
    # the created resource is the caller, registered here; where it registered, and the token
    # it presents here, are what its own half of the handshake needs
    return {
        "company": company,
        "url": url,
        "token": mine,
        "registered_at": ctx.company,
        "registered_at_url": ctx.public_url,
    }


def remove(ctx: Context, company: str) -> None:
    """Admin: forget a peer (its tokens stop working at once)."""
    with ctx.store.transaction():
        if not ctx.store.delete_peer(company):
            raise NotFound(f"company {company!r} is not a peer of {ctx.company!r}")
    coherence.peers_changed(ctx)
    ctx.catalogs.forget(company)
    log.info("removed peer %s", company)


def list_with_reachability(ctx: Context) -> list[dict]:
    """Every peer, probed now in parallel (``GET /health`` with its token)."""
    peers = ctx.peers(refresh=True)
    probes = {
        c: (
            partial(
                ctx.client.call,
                p["url"],
                "GET",
                "/health",
                token=p["token_out"],
                timeout=ctx.timing.peer_timeout,
            ),
        )
        for c, p in peers.items()
    }
    outcomes = fanout.fan_out(ctx, probes, ctx.timing.peer_timeout + 0.5)
    out = []
    for company, peer in sorted(peers.items()):
        probe = outcomes[company]
        error = None
        if probe.silent:
            error = "no answer in time"
        elif probe.error is not None:
            error = str(probe.error)
        elif probe.value.status != 200:
            error = f"health answered {probe.value.status}"
        with ctx.store.connection():
            ctx.store.note_peer_contact(company, error)
        catalog = ctx.catalogs.catalog(company).view()
        traffic = ctx.client.traffic.get(peer["url"], {"requests": 0, "bytes_in": 0})
        out.append(
            {
                "company": company,
                "url": peer["url"],
                "reachable": error is None,
                "last_ok_at": iso(utcnow() if error is None else peer["last_ok_at"]),
                "last_error": error,
                "catalog": catalog,
                "traffic": {**traffic, "prepares_queued": ctx.gateway.prepares_queued(company)},
            }
        )
    return out


def join(ctx: Context, body: dict, caller: str | None) -> dict:
    """``POST /peers``: the second half of a handshake (``company`` and ``token``: a server
    registering with us, shown by the registration secret), or, by this server's admin,
    registering with the server at ``url``."""
    if "company" in body or "token" in body:
        if not ("company" in body and "token" in body):
            raise InvalidRequest("the handshake needs both 'company' and 'token'")
        return accept(ctx, body["company"], body["url"], body["token"], body.get("current_token"))
    if caller != "admin":
        raise Unauthorized("registering with another server needs this server's admin token")
    peer = register(ctx, body["url"], body.get("registration_token"))
    return {"company": peer["company"], "url": peer["url"], "token": "(stored)"}


def register_at_start(ctx: Context, urls: list[str], stop: threading.Event) -> None:
    """``RECARGA_PEERS``: register with each URL not registered yet, retrying until it answers
    (peers may start later than us)."""
    todo = [u.rstrip("/") for u in urls]
    delay = 0.5
    while todo and not stop.is_set():
        known = {p["url"] for p in ctx.peers(refresh=True).values()}
        for url in list(todo):
            if url in known:
                todo.remove(url)
                continue
            try:
                register(ctx, url)
                todo.remove(url)
            except (PeerUnavailable, Unauthorized, InvalidRequest, Conflict) as exc:
                log.info("peer %s not registered yet: %s", url, exc.detail)
        stop.wait(delay)
        delay = min(delay * 2, 10.0)
