"""Talking to peer company servers over the REST API (the only thing companies share)."""

from federation.client import PeerClient, PeerError, PeerReply

__all__ = ["PeerClient", "PeerError", "PeerReply"]
