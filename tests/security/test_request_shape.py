"""Request shape against the live service (issue 14, items 2 and 14): a body cap answered
before the body is read, unknown JSON fields refused by name, broken JSON explained in words.

The big bodies are streamed over a raw socket in 64 KiB chunks, so the test never holds more
than one chunk: the server must answer while the client is still sending.
"""

from __future__ import annotations

import select
import socket
import time
from urllib.parse import urlsplit

import httpx
import psutil

from serve.api.body_limit import DEFAULT_MAX_BODY_BYTES

CHUNK = b" " * 65536
BUDGET_S = 10.0


def _answer(sock: socket.socket) -> tuple[int, str]:
    """Status and body of the HTTP response waiting on ``sock``."""
    sock.setblocking(True)
    sock.settimeout(5)
    data = b""
    while b"\r\n\r\n" not in data:
        got = sock.recv(65536)
        if not got:
            break
        data += got
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = next(
        (
            int(v)
            for k, _, v in (h.partition(":") for h in lines[1:])
            if k.lower() == "content-length"
        ),
        0,
    )
    while len(body) < length:
        got = sock.recv(65536)
        if not got:
            break
        body += got
    return int(lines[0].split()[1]), body.decode("utf-8", "replace")


def stream_post(url: str, path: str, announced: int | None) -> tuple[int | None, str, int, float]:
    """POST a body of spaces, chunk by chunk, until the server answers or `BUDGET_S` passes.

    ``announced``: the Content-Length sent in the headers; None sends the body chunked.
    Returns (status or None, response body, bytes of body sent, seconds to the answer).
    """
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=5)
    framing = (
        f"Content-Length: {announced}" if announced is not None else "Transfer-Encoding: chunked"
    )
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/json\r\n"
        f"{framing}\r\n\r\n"
    )
    started = time.monotonic()
    sock.sendall(head.encode("ascii"))
    sock.setblocking(False)
    sent = 0
    frame = CHUNK if announced is not None else b"10000\r\n" + CHUNK + b"\r\n"
    try:
        while time.monotonic() - started < BUDGET_S:
            readable, writable, _ = select.select([sock], [sock], [], 1.0)
            if readable:
                break
            if writable and (announced is None or sent < announced):
                try:
                    sent += sock.send(frame) if announced is None else sock.send(CHUNK)
                except (BlockingIOError, InterruptedError):
                    continue
                except (BrokenPipeError, ConnectionResetError):
                    break
        else:
            return None, "", sent, time.monotonic() - started
        status, body = _answer(sock)
        return status, body, sent, time.monotonic() - started
    finally:
        sock.close()


def test_a_400_mb_login_is_refused_before_its_body_is_read(live):
    rss = psutil.Process().memory_info().rss
    status, body, sent, seconds = stream_post(live.url, "/api/v1/auth/login", 400_000_000)
    grown_mb = (psutil.Process().memory_info().rss - rss) / 2**20
    assert status == 413, (status, sent)
    assert '"code":"too_large"' in body and "65,536 bytes" in body and "400,000,000" in body
    assert seconds < 5
    assert sent < 50 * 2**20  # answered long before the client got far
    assert grown_mb < 16, f"the server grew by {grown_mb:.0f} MB"


def test_a_chunked_body_is_cut_off_just_past_the_cap(live):
    rss = psutil.Process().memory_info().rss
    status, body, sent, _ = stream_post(live.url, "/api/v1/auth/login", None)
    grown_mb = (psutil.Process().memory_info().rss - rss) / 2**20
    assert status == 413, (status, sent)
    assert "larger than the 65,536 bytes this endpoint accepts" in body
    assert grown_mb < 16


def test_an_authenticated_note_past_the_cap_is_413_and_changes_nothing(live):
    item = live.seed.items["escalate_me"]
    note = "x" * (DEFAULT_MAX_BODY_BYTES + 1)
    r = httpx.post(
        f"{live.url}/api/v1/review/items/{item}/escalate",
        json={"expected_version": 1, "note": note},
        headers=live.auth("rev"),
        timeout=10,
    )
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "too_large"
    stored = httpx.get(f"{live.url}/api/v1/review/items/{item}", headers=live.auth("rev"))
    assert (stored.json()["state"], stored.json()["version"]) == ("pending", 1)


def test_the_bulk_route_takes_a_body_above_the_default_cap(live):
    # 500 entries of long ids: ~110 KiB, above 64 KiB; every id is unknown, so nothing changes
    items = [{"item_id": f"g1/theft/{n:0>180}", "expected_version": 1} for n in range(500)]
    r = httpx.post(
        f"{live.url}/api/v1/review/bulk",
        json={"action": "escalate", "items": items},
        headers=live.auth("rev"),
        timeout=30,
    )
    assert len(r.request.content) > DEFAULT_MAX_BODY_BYTES
    assert r.status_code == 200
    assert r.json()["failed"] == 500


def test_an_unknown_json_field_is_a_422_naming_it(live):
    r = httpx.post(
        f"{live.url}/api/v1/review/items/{live.seed.items['escalate_me']}/escalate",
        json={"expected_version": 1, "note": "n", "approved_by": "someone"},
        headers=live.auth("rev"),
    )
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["fields"] == [
        {
            "field": "approved_by",
            "message": "unknown field: this request does not take it; remove it (names are exact)",
        }
    ]
    assert error["message"] == "invalid request: check approved_by"


def test_an_unknown_login_field_is_refused_too(live):
    r = httpx.post(
        f"{live.url}/api/v1/auth/login",
        json={"username": "rev", "password": "wrong", "remember": True},
    )
    assert r.status_code == 422
    assert [f["field"] for f in r.json()["error"]["fields"]] == ["remember"]


def test_truncated_json_is_explained_with_line_and_column(live):
    r = httpx.post(
        f"{live.url}/api/v1/review/bulk",
        content=b'{"action": "approve",\n "items": [{"item_id": "x", ',
        headers={**live.auth("rev"), "Content-Type": "application/json"},
    )
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["code"] == "invalid_json"
    # line 2 is ' "items": [{"item_id": "x", ' (28 characters): the parser stops just past it
    assert error["message"] == (
        "the body is not valid JSON: Expecting property name enclosed in double quotes "
        "at line 2 column 29"
    )
    assert "check" not in error["message"]
