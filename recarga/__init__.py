"""Recarga: the company server's composition root (configuration, app factory, command line)."""

__version__ = "0.1.0"
