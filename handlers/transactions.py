"""The two-phase commit endpoints between company servers."""

from __future__ import annotations

from booking.errors import NotImplementedYet

_LATER = "two-phase commit is not served by this version yet"


def prepare(tx_id, body):
    raise NotImplementedYet(_LATER)


def commit(tx_id):
    raise NotImplementedYet(_LATER)


def abort(tx_id):
    raise NotImplementedYet(_LATER)


def get_transaction(tx_id):
    raise NotImplementedYet(_LATER)
