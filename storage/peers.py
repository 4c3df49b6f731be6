"""Peer companies: their URL and the tokens of the handshake (only hashes of those
presented to us)."""

from __future__ import annotations

import hashlib

from booking.model import utcnow
from storage import models as m
from storage.repository import Repository


class PeerRepository(Repository):
    def peer_for_token(self, token: str) -> str | None:
        """The company presenting ``token``, or None. Only token hashes are stored."""
        digest = hashlib.sha256(token.encode()).hexdigest()
        row = m.Peer.get_or_none(
            (m.Peer.token_in_sha256 == digest) | (m.Peer.token_prev_sha256 == digest)
        )
        return row.company if row else None

    def list_peers(self) -> list[dict]:
        return [
            dict(
                company=p.company,
                url=p.url,
                token_out=p.token_out,
                token_hashes={p.token_in_sha256, p.token_prev_sha256} - {None},
                last_ok_at=p.last_ok_at,
                last_error=p.last_error,
            )
            for p in m.Peer.select().order_by(m.Peer.company)
        ]

    def save_peer(self, company: str, url: str, token_in: str, token_out: str) -> None:
        """Add or update a peer in one statement (servers registering at the same moment
        must not collide); the token it presents here is stored only as a hash, and the one
        it replaces stays valid until the next rotation."""
        now = utcnow()
        digest = hashlib.sha256(token_in.encode()).hexdigest()
        p = m.Peer
        p.insert(
            company=company,
            url=url,
            token_in_sha256=digest,
            token_out=token_out,
            created_at=now,
            updated_at=now,
        ).on_conflict(
            conflict_target=[p.company],
            update={
                p.url: url,
                p.token_prev_sha256: p.token_in_sha256,
                p.token_in_sha256: digest,
                p.token_out: token_out,
                p.updated_at: now,
            },
        ).execute()

    def accept_peer(
        self, company: str, url: str, token_in: str, token_out: str, proof: str | None
    ) -> bool:
        """A company's own handshake: added if new; if known, updated only when ``proof`` is
        a token it may present here now (nobody else takes its name with the shared secret).
        The check and the write happen under the row's lock. False when refused."""
        with self.transaction():
            p = m.Peer
            now = utcnow()
            added = (
                p.insert(
                    company=company,
                    url=url,
                    token_in_sha256=hashlib.sha256(token_in.encode()).hexdigest(),
                    token_out=token_out,
                    created_at=now,
                    updated_at=now,
                )
                .on_conflict_ignore()
                .as_rowcount()
                .execute()
            )
            if added:
                return True
            q = p.select().where(p.company == company)
            if not self.sqlite:
                q = q.for_update()
            known = q.first()
            digest = hashlib.sha256(proof.encode()).hexdigest() if proof else None
            if (
                known is None
                or digest is None
                or digest not in (known.token_in_sha256, known.token_prev_sha256)
            ):
                return False  # the proof: a token this company may present here now
            self.save_peer(company, url, token_in, token_out)
            return True

    def delete_peer(self, company: str) -> bool:
        return m.Peer.delete().where(m.Peer.company == company).execute() > 0

    def note_peer_contact(self, company: str, error: str | None) -> None:
        if error is None:
            m.Peer.update(last_ok_at=utcnow(), last_error=None).where(
                m.Peer.company == company
            ).execute()
        else:
            m.Peer.update(last_error=error[:500]).where(m.Peer.company == company).execute()
