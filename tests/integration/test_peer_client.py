"""The peer client over the real network (a local waitress server): every way a peer can fail
is a ``PeerError`` in a person's words, connections are kept alive and survive the peer's
restart, compressed answers are read whole and counted as received."""

from __future__ import annotations

import gzip
import json
import socket
import subprocess
import sys
import time

import pytest

from federation import PeerClient, PeerError
from tests.support import ROOT, free_port

BIG = {"stations": [{"id": f"st-{i}", "name": "Estação " * 5} for i in range(400)]}


def app(environ, start_response):
    path = environ["PATH_INFO"].removeprefix("/api/v1")
    status, body, headers = "200 OK", b"", [("Content-Type", "application/json")]
    if path == "/echo":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        sent = json.loads(environ["wsgi.input"].read(length) or b"null")
        body = json.dumps(
            {
                "sent": sent,
                "query": environ.get("QUERY_STRING", ""),
                "authorization": environ.get("HTTP_AUTHORIZATION"),
                "peer_port": environ.get("REMOTE_PORT"),
            }
        ).encode()
    elif path == "/big":
        body = json.dumps(BIG).encode()
        if "gzip" in environ.get("HTTP_ACCEPT_ENCODING", ""):
            body = gzip.compress(body)
            headers.append(("Content-Encoding", "gzip"))
    elif path == "/slow":
        time.sleep(1.0)
        body = b"{}"
    elif path == "/text":
        status, body, headers = "200 OK", b"hello", [("Content-Type", "text/plain")]
    elif path == "/list":
        body = b"[1, 2]"
    elif path == "/fail":
        status, body = "503 Service Unavailable", b'{"detail": "busy"}'
    else:
        status, body = "404 Not Found", b'{"detail": "no such thing"}'
    start_response(status, [*headers, ("Content-Length", str(len(body)))])
    return [body]


class Peer:
    """The app above served by waitress in a process of its own: stopping it closes every
    connection to it, as a peer's restart does."""

    def __init__(self, port: int):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "waitress",
                "--host=127.0.0.1",
                f"--port={port}",
                "--threads=4",
                f"{__name__}:app",
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the peer on port {port} did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture
def peer():
    p = Peer(free_port())
    yield p
    p.stop()


@pytest.fixture
def client():
    c = PeerClient(timeout=2.0, max_connections=4)
    yield c
    c.close()


def test_a_json_answer_with_the_token_query_and_body_sent(peer, client):
    reply = client.call(
        peer.url, "POST", "/echo", token="t0k", json={"nome": "João"}, params={"since": "5"}
    )
    assert reply.status == 200
    assert reply.body["sent"] == {"nome": "João"}
    assert reply.body["query"] == "since=5"
    assert reply.body["authorization"] == "Bearer t0k"
    assert client.traffic[peer.url]["requests"] == 1


def test_connections_are_kept_alive_and_a_restarted_peer_is_reached_again(peer, client):
    first = client.call(peer.url, "POST", "/echo", json={}).body["peer_port"]
    again = client.call(peer.url, "POST", "/echo", json={}).body["peer_port"]
    assert first == again  # one connection, kept alive
    peer.stop()  # the pooled connection is closed by the other side
    restarted = Peer(peer.port)
    try:
        reply = client.call(peer.url, "POST", "/echo", json={"n": 1})
        assert reply.status == 200 and reply.body["sent"] == {"n": 1}
    finally:
        restarted.stop()


def test_a_compressed_answer_is_read_whole_and_counted_as_received(peer, client):
    reply = client.call(peer.url, "GET", "/big")
    assert reply.body == BIG
    received = client.traffic[peer.url]["bytes_in"]
    assert 0 < received < len(json.dumps(BIG).encode()) / 5


def test_a_peer_answering_4xx_is_an_answer(peer, client):
    reply = client.call(peer.url, "GET", "/nowhere")
    assert reply.status == 404 and reply.body == {"detail": "no such thing"}


@pytest.mark.parametrize(
    "path, words",
    [
        ("/fail", "answered 503 to GET /fail"),
        ("/text", "answered 200 without JSON"),
        ("/list", "answered 200 with a non-object body"),
    ],
)
def test_an_answer_that_is_no_use_is_a_peer_error(peer, client, path, words):
    with pytest.raises(PeerError, match=words):
        client.call(peer.url, "GET", path)


def test_a_peer_too_slow_did_not_answer_in_time(peer, client):
    began = time.monotonic()
    with pytest.raises(PeerError, match="did not answer in time"):
        client.call(peer.url, "GET", "/slow", timeout=0.2)
    assert time.monotonic() - began < 0.9


def test_a_port_with_no_server_refused_the_connection(client):
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(PeerError) as err:
        client.call(url, "GET", "/health")
    assert str(err.value).startswith(f"{url} refused the connection (")
    assert "Errno" not in str(err.value) and "HTTPConnection" not in str(err.value)


def test_a_name_that_does_not_resolve_is_named_as_such(client):
    with pytest.raises(PeerError, match="could not be found: its name does not resolve"):
        client.call("http://no-such-company.invalid", "GET", "/health")


@pytest.mark.parametrize("url", ["http://[bad", "ftp://company.example", "http://exa mple.com"])
def test_a_url_nothing_can_be_sent_to_is_a_peer_error(client, url):
    with pytest.raises(PeerError, match="cannot call"):
        client.call(url, "GET", "/health")
