"""The peer handshake's edges: concurrent registrations, no takeover with the shared secret,
absolute URLs only, and an admin removing a peer (SPEC §5). Company A is served in this
process (``tests.inprocess``): its real app, database and workers, without sockets."""

from __future__ import annotations

import threading

import pytest

from tests.federation import REGISTRATION, Federation

SECRET = {"Authorization": f"Bearer {REGISTRATION}"}


@pytest.fixture(scope="module")
def fed(tmp_path_factory):
    """Company A alone, on its own throwaway PostgreSQL database."""
    federation = Federation(tmp_path_factory.mktemp("peers"), companies=("a",), in_process=True)
    yield federation.start()
    federation.close()


@pytest.fixture(scope="module")
def server_a(fed):
    return fed.servers["a"]


@pytest.fixture(scope="module")
def http(fed):
    """A client reaching the companies of this process."""
    return fed.http


def handshake(server, company, url="http://127.0.0.1:9", token=None, **extra):
    with server.network.client(timeout=30) as http:
        return http.post(
            f"{server.api}/peers",
            headers=SECRET,
            timeout=30,
            json={
                "company": company,
                "url": url,
                "token": token or f"token-of-{company}-" + "x" * 8,
                **extra,
            },
        )


def test_servers_registering_at_the_same_moment_never_get_a_500(server_a):
    for i in range(20):
        company = f"twin{i}"
        barrier = threading.Barrier(2)
        statuses = []

        def go(company=company, barrier=barrier, statuses=statuses):
            barrier.wait()
            statuses.append(handshake(server_a, company).status_code)

        threads = [threading.Thread(target=go) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert 201 in statuses and set(statuses) <= {201, 409}, statuses


def test_the_registration_secret_alone_cannot_take_over_a_company(server_a, http):
    first = handshake(server_a, "victim", url="http://victim.example:8080")
    assert first.status_code == 201, first.text
    their_token = first.json()["token"]  # what "victim" presents to server_a

    takeover = handshake(
        server_a, "victim", url="http://attacker.example:8080", token="attacker-token-" + "y" * 8
    )
    assert takeover.status_code == 409, takeover.text
    assert "current token" in takeover.json()["detail"]
    wrong = handshake(
        server_a,
        "victim",
        url="http://attacker.example:8080",
        current_token="not-the-token-" + "z" * 8,
    )
    assert wrong.status_code == 409
    peers = http.get(f"{server_a.api}/peers", headers=server_a.admin, timeout=30).json()
    [victim] = [p for p in peers["items"] if p["company"] == "victim"]
    assert victim["url"] == "http://victim.example:8080"
    # the old token still works for the real company
    r = http.get(
        f"{server_a.api}/transactions/tx-none", headers={"Authorization": f"Bearer {their_token}"}
    )
    assert r.status_code == 404

    moved = handshake(
        server_a, "victim", url="http://victim-new.example:8080", current_token=their_token
    )
    assert moved.status_code == 201, moved.text
    peers = http.get(f"{server_a.api}/peers", headers=server_a.admin, timeout=30).json()
    assert [p["url"] for p in peers["items"] if p["company"] == "victim"] == [
        "http://victim-new.example:8080"
    ]


@pytest.mark.parametrize(
    "url", ["ftp://company-b:21", "company-b:8080", "/relative", "http://", "javascript:alert(1)"]
)
def test_peer_urls_must_be_absolute_http_urls(server_a, url, http):
    r = handshake(server_a, "badurl", url=url)
    assert r.status_code in (400, 422), r.text
    r = http.post(f"{server_a.api}/peers", headers=server_a.admin, json={"url": url})
    assert r.status_code in (400, 422), r.text


def test_an_admin_removes_a_peer_and_its_token_stops_working(server_a, http):
    r = handshake(server_a, "leaving")
    token = {"Authorization": f"Bearer {r.json()['token']}"}
    assert http.get(f"{server_a.api}/transactions/tx-x", headers=token).status_code == 404
    assert http.delete(f"{server_a.api}/peers/leaving").status_code == 401
    assert http.delete(f"{server_a.api}/peers/leaving", headers=server_a.admin).status_code == 204
    assert http.get(f"{server_a.api}/transactions/tx-x", headers=token).status_code == 401
    assert http.delete(f"{server_a.api}/peers/leaving", headers=server_a.admin).status_code == 404
    peers = http.get(f"{server_a.api}/peers", headers=server_a.admin, timeout=30).json()
    assert "leaving" not in {p["company"] for p in peers["items"]}
    # it may come back with the registration secret
    assert handshake(server_a, "leaving").status_code == 201
