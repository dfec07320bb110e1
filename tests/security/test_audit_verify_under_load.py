"""Issue 14, item 1: `verify` must not report a broken chain on a healthy log being written.

The probe: while the service wrote (patrol reports), 6 of 6 runs of `risk audit verify` said
"the log ends at entry 3054 but the chain head records entry 3082": entries and head were read
in separate snapshots. Here writer threads append without pause — three through
`serve.repo.audit.append` in their own transactions, one through the live service (logins,
each audited) — while the API's verify and `risk audit verify` run 20 times each. The log
first gets 1,000 entries, so a verify takes long enough for writers to commit during it (the
old two-snapshot verify then failed 14 to 17 times out of 20 on each database).
"""

from __future__ import annotations

import threading

import httpx
import pytest
from typer.testing import CliRunner

from risk.cli import app as cli
from serve.db import make_engine, session_factory, transaction
from serve.repo import audit
from tests.serve.api_seed import PASSWORD

RUNS = 20
PREFILL = 1000
runner = CliRunner()


@pytest.fixture(scope="module", autouse=True)
def busy_log(live) -> None:
    engine = make_engine(live.db_url)
    try:
        with transaction(session_factory(engine)) as s:
            for i in range(PREFILL):
                audit.append(s, "bulk", "export", "report", f"r{i}")
    finally:
        engine.dispose()


class Writers:
    """Threads appending audit entries until stopped; errors are kept, never swallowed."""

    def __init__(self, live, repo_threads: int = 3) -> None:
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self.appended = 0
        self._lock = threading.Lock()
        self._engine = make_engine(live.db_url)
        factory = session_factory(self._engine)
        self.threads = [
            threading.Thread(target=self._repo, args=(factory, k), daemon=True)
            for k in range(repo_threads)
        ]
        self.threads.append(threading.Thread(target=self._http, args=(live.url,), daemon=True))

    def _count(self) -> None:
        with self._lock:
            self.appended += 1

    def _repo(self, factory, k: int) -> None:
        i = 0
        try:
            while not self.stop.is_set():
                with transaction(factory) as s:
                    audit.append(s, f"writer{k}", "export", "report", f"w{k}-{i}")
                self._count()
                i += 1
        except BaseException as exc:  # reported by the test
            self.errors.append(exc)

    def _http(self, url: str) -> None:
        try:
            with httpx.Client(base_url=url, timeout=30) as client:
                while not self.stop.is_set():
                    r = client.post(
                        "/api/v1/auth/login", json={"username": "ana", "password": PASSWORD}
                    )
                    assert r.status_code == 200, r.text
                    self._count()
        except BaseException as exc:
            self.errors.append(exc)

    def __enter__(self) -> Writers:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(60)
        self._engine.dispose()


def _wait_for_writes(writers: Writers, n: int = 10) -> None:
    while writers.appended < n and not writers.errors:
        writers.stop.wait(0.01)


def test_api_verify_passes_20_of_20_while_writers_append(live):
    results = []
    with Writers(live) as writers, httpx.Client(base_url=live.url, timeout=60) as client:
        _wait_for_writes(writers)
        for _ in range(RUNS):
            r = client.get("/api/v1/audit/verify", headers=live.auth("adm"))
            assert r.status_code == 200, r.text
            results.append(r.json())
        appended = writers.appended
    assert writers.errors == []
    assert [(r["ok"], r["first_bad_seq"], r["reason"]) for r in results] == [
        (True, None, "")
    ] * RUNS
    checked = [r["checked"] for r in results]
    assert checked == sorted(checked) and checked[-1] > checked[0]  # the log grew meanwhile
    assert appended >= RUNS


def test_cli_verify_passes_20_of_20_while_writers_append(live):
    args = ["audit", "verify", "--database-url", live.db_url, "--data-dir", str(live.data_dir)]
    outputs = []
    with Writers(live) as writers:
        _wait_for_writes(writers)
        for _ in range(RUNS):
            result = runner.invoke(cli, args)
            outputs.append((result.exit_code, result.output))
    assert writers.errors == []
    assert [code for code, _ in outputs] == [0] * RUNS, [o for c, o in outputs if c][:1]
    counts = [int(text.split("OK: ")[1].split(" entries")[0]) for _, text in outputs]
    assert counts == sorted(counts) and counts[-1] > counts[0]


def test_the_log_verifies_once_the_writers_stop(live):
    engine = make_engine(live.db_url)
    try:
        with session_factory(engine)() as s:
            result = audit.verify(s)
            head = audit.generation(s)
    finally:
        engine.dispose()
    assert (result.ok, result.checked, result.unkeyed) == (True, head, 0)
    assert head > PREFILL + 2 * RUNS
