"""Recarga: the company server's composition root (configuration, app factory, command line)."""

import warnings

# connexion 3.3 imports starlette's test client when it starts; starlette 1.x warns there that it
# prefers httpx2. Nothing here uses that test client, so keep the servers' logs free of it.
warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")

__version__ = "0.1.0"
