"""Persistence: the only package that knows peewee and SQL."""

from storage.store import Store

__all__ = ["Store"]
