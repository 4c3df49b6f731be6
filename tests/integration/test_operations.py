"""Each operation's decorators are built once (recarga.operations), and requests in parallel
still get their own parameters: the real company app behind the real bridge."""

from __future__ import annotations

import httpx

from recarga.operations import _Operation
from tests.integration.test_wsgi_bridge import _parallel, served
from tests.support import sqlite_company


def _operations(app) -> dict:
    apis = app._middleware_app.apis  # noqa: SLF001 — the operations connexion routes to
    return {k: v for api in apis.values() for a in api for k, v in a.operations.items()}


def test_an_operation_is_decorated_once_and_serves_every_request_its_own_parameters(tmp_path):
    with (
        sqlite_company(tmp_path) as (app, _),
        served(app, threads=8) as (url, _),
        httpx.Client() as client,
    ):
        assert client.get(f"{url}/api/v1/health").status_code == 200
        operations = _operations(app)
        assert operations and all(isinstance(o, _Operation) for o in operations.values())
        health = next(o for o in operations.values() if "health" in o.operation_id)
        built = health.fn
        assert client.get(f"{url}/api/v1/health").status_code == 200
        assert health.fn is built  # not built again for the second request

        # path and query parameters (``from`` reaches the handler as ``from_``), each
        # request its own, 16 at once
        def one(i: int) -> tuple[int, str]:
            with httpx.Client() as c:
                r = c.get(
                    f"{url}/api/v1/stations/st-missing-{i}/availability",
                    params={
                        "from": f"2030-01-{i + 1:02d}T00:00:00Z",
                        "to": f"2030-01-{i + 2:02d}T00:00:00Z",
                    },
                )
                assert r.status_code == 404, r.text
                return i, r.json()["detail"]

        ids = iter(range(16))
        answers = _parallel(16, lambda: one(next(ids)))
        assert sorted(i for i, _ in answers) == list(range(16))
        for i, detail in answers:
            assert f"st-missing-{i}" in detail
        bad = client.get(
            f"{url}/api/v1/stations/st-missing-1/availability", params={"from": "soon"}
        )
        assert bad.status_code == 400 and "'soon' is not a 'date-time'" in bad.json()["detail"]
