"""Benchmark: the ranked-grids endpoint under concurrent clients, and racing review decisions.

    .venv/bin/python -m benchmarks.api_load [--clients 50] [--seconds 20] [--grids 2000]
        [--db sqlite|postgresql] [--think-ms 0] [--workers 1]

DESIGN §8: ``GET /api/v1/forecasts/ranked`` under 50 concurrent clients on loopback, p99 < 50 ms
and zero errors. Steps:

1. Seed a fresh database (a SQLite file in a temporary folder, or a throw-away schema in the
   PostgreSQL at ``--pg-url``, dropped afterwards): the grids, one complete run of every grid ×
   7 targets with levels and reasons, review items for the top 10 % of forecasts (a third of
   them approved, so the commander has warnings to see), and users with API tokens — a
   commander and an analyst (city scope), two reviewers, an admin.
2. Serve the real app (uvicorn, app factory) in a subprocess on 127.0.0.1 and a free port.
3. Load: ``--clients`` asyncio clients, each with its own keep-alive connection, for
   ``--seconds`` (after ``--warmup`` seconds not counted; at most ``--max-requests``) request
   the ranked page (limit 50) with analyst or commander tokens and a mix of filters. With
   ``--think-ms 0`` every client sends its next request as soon as the last one answers
   (closed loop, the worst case); otherwise it waits 0.5-1.5 times that long between
   requests (and starts at a random offset), like people refreshing a dashboard.
4. Conflicts: ``--racers`` requests over the two reviewer tokens approve each of
   ``--conflict-items`` pending items at once with the same ``expected_version``: exactly one
   200 per item, the rest 409, no 5xx; the item's version advanced once, one ``approve``
   audit entry per item, and ``/audit/verify`` is ok.
5. Write benchmarks/results/api_load.json (api_load_postgresql.json with ``--db postgresql``;
   or ``--out``), print a summary, stop the server.

Only loopback addresses are used. Latency is measured in the client (send → body read), so it
includes the client's own event-loop time on the same 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import numpy as np
import pandas as pd
from sqlalchemy import text
from sqlalchemy.engine import make_url

from risk.contract import ANY_TARGET
from risk.keys import PURPOSES
from risk.levels import LEVELS
from risk.review import approve
from risk.scopes import Scope
from risk.synth.params import CATEGORIES
from serve.db import make_engine, session_factory, transaction, upgrade
from serve.repo import audit
from serve.repo.grids import upsert_grids
from serve.repo.reviews import apply_scoring, save_item
from serve.repo.runs import RunInfo, store_run
from serve.repo.users import add_user, issue_token

RESULTS = Path(__file__).resolve().parent / "results"
API = "/api/v1"
HOST = "127.0.0.1"
TARGET_P99_MS = 50.0
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TARGETS = (ANY_TARGET, *CATEGORIES)  # 7
GRIDS_PER_COMMUNITY = 20
COMMUNITIES_PER_STREET = 10
REVIEW_SHARE = 0.10  # top forecasts that become review items
APPROVED_EVERY = 3  # every third item approved before the benchmark
WINDOW = timedelta(hours=72)
USERS = {
    "cmd": ("commander", Scope.city()),
    "ana": ("analyst", Scope.city()),
    "rev1": ("reviewer", Scope.city()),
    "rev2": ("reviewer", Scope.city()),
    "adm": ("admin", Scope.city()),
}


# --------------------------------------------------------------------------- seeding


@dataclass
class Seeded:
    tokens: dict[str, str]
    streets: list[str]
    pending: list[str]  # pending item ids, most severe first
    n_forecasts: int
    n_items: int
    n_approved: int
    seconds: float = 0.0


def city(n_grids: int) -> pd.DataFrame:
    """``n_grids`` grids, 20 to a community, 10 communities to a street."""
    k = np.arange(n_grids)
    community = k // GRIDS_PER_COMMUNITY
    street = community // COMMUNITIES_PER_STREET
    return pd.DataFrame(
        {
            "grid_id": [f"g{i:05d}" for i in k],
            "community_id": [f"c{c:04d}" for c in community],
            "street_id": [f"s{s:03d}" for s in street],
            "grid_type": "old_residential",
            "centroid_lon": 121.3 + (k % 50) * 0.004,
            "centroid_lat": 31.1 + (k // 50) * 0.004,
        }
    )


def forecasts(grid_ids: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """Every grid × `TARGETS`: skewed probabilities, levels by quantile (red the top 5 %,
    orange the next 10 %, yellow the next 20 %), three reasons each (the shape scoring writes)."""
    n = len(grid_ids) * len(TARGETS)
    prob = rng.beta(0.6, 12.0, size=n)
    rank = prob.argsort().argsort() / n  # 0 (lowest) … <1 (highest)
    level = np.asarray(LEVELS, dtype=object)[
        np.searchsorted([0.65, 0.85, 0.95], rank, side="right")
    ]
    reasons = [
        [
            {"family": "history", "value": 9, "delta_pts": 12.5, "en": "28-day count 9"},
            {"family": "calendar", "value": "holiday", "delta_pts": 3.1, "en": "public holiday"},
            {"family": "neighbours", "value": 4, "delta_pts": 1.2, "en": "4 events next door"},
        ]
    ] * n
    return pd.DataFrame(
        {
            "grid_id": np.repeat(grid_ids, len(TARGETS)),
            "target": np.tile(np.asarray(TARGETS, dtype=object), len(grid_ids)),
            "prob": prob,
            "expected_count": prob * 1.3,
            "level": level,
            "reasons": reasons,
        }
    )


def seed(url: str, n_grids: int, rng_seed: int = 1) -> Seeded:
    """Migrate ``url`` and fill it (see the module docstring); returns the tokens and items."""
    t0 = time.perf_counter()
    upgrade(url)
    rng = np.random.default_rng(rng_seed)
    grids = city(n_grids)
    frame = forecasts(grids["grid_id"].to_numpy(dtype=object), rng)
    issue = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    top = frame.sort_values(["prob", "grid_id", "target"], ascending=[False, True, True])
    top = top.head(int(len(frame) * REVIEW_SHARE))
    tokens: dict[str, str] = {}
    pending: list[str] = []
    approved = 0
    engine = make_engine(url)
    try:
        with transaction(session_factory(engine)) as s:
            upsert_grids(s, grids)
            for name, (role, scope) in USERS.items():
                add_user(s, name, role, scope, at=issue)
                tokens[name] = issue_token(s, name, "api", at=issue)
            store_run(s, RunInfo("bench-r1", issue, "bench-m1", "bench-fp", issue), frame)
            for k, row in enumerate(top.itertuples(index=False)):
                item, event = apply_scoring(
                    s,
                    grid_id=row.grid_id,
                    target=row.target,
                    window_start=issue,
                    window_end=issue + WINDOW,
                    prob=float(row.prob),
                    level=row.level,
                    reasons=row.reasons,
                    model_version="bench-m1",
                    at=issue,
                    expected_count=float(row.expected_count),
                    run_id="bench-r1",
                )
                if event is not None:
                    audit.append_review_event(s, event)
                if k % APPROVED_EVERY == 0:
                    new, event = approve(item, "rev1", issue + timedelta(minutes=5), item.version)
                    save_item(s, new, item.version)
                    audit.append_review_event(s, event)
                    approved += 1
                else:
                    pending.append(item.item_id)
    finally:
        engine.dispose()
    streets = sorted(grids["street_id"].unique().tolist())
    return Seeded(
        tokens, streets, pending, len(frame), len(top), approved, time.perf_counter() - t0
    )


@contextmanager
def postgres_schema(base_url: str) -> Iterator[str]:
    """A URL whose search_path is a new schema in ``base_url``'s database, dropped afterwards."""
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = make_engine(base_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text("SET LOCAL lock_timeout = '10s'"))
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


# --------------------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(
    url: str,
    data_dir: Path,
    workers: int = 1,
    app: str = "serve.app:create_app",
    timeout_s: float = 60.0,
) -> Iterator[tuple[str, int]]:
    """The app served by uvicorn in a subprocess on loopback; yields its base URL and process
    id once ``/health`` answers, and stops it (SIGINT, then SIGKILL after 15 s) on exit.
    (With ``workers`` > 1 the id is uvicorn's supervisor, whose CPU time excludes the workers.)"""
    port = free_port()
    env = {**os.environ, "RISK_DATABASE_URL": url, "RISK_DATA_DIR": str(data_dir)}
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--factory",
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    log = open(data_dir / "server.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"the server exited with {proc.returncode}: "
                    + (data_dir / "server.log").read_text(errors="replace")[-2000:]
                )
            try:
                if httpx.get(f"{base}{API}/health", timeout=2.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not answer /health within {timeout_s} s")
            time.sleep(0.2)
        yield base, proc.pid
    except BaseException:
        log.flush()
        tail = (data_dir / "server.log").read_text(errors="replace")[-4000:]
        print(f"--- server log (tail) ---\n{tail}", file=sys.stderr)
        raise
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


# --------------------------------------------------------------------------- load


# (token name, query) pairs the clients draw from; analysts see forecasts, commanders see
# approved warnings only. "{street}" is replaced by a street id.
MIX: tuple[tuple[str, dict[str, Any]], ...] = (
    ("ana", {}),
    ("ana", {}),
    ("ana", {"target": "any"}),
    ("ana", {"level": ["red", "orange"]}),
    ("ana", {"street": "{street}"}),
    ("ana", {"target": "theft", "level": "red"}),
    ("cmd", {}),
    ("cmd", {"street": "{street}"}),
    ("cmd", {"level": "red"}),
    ("cmd", {"target": "any"}),
)


@dataclass
class LoadStats:
    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    by_source: Counter[str] = field(default_factory=Counter)


def _query(template: dict[str, Any], street: str) -> dict[str, Any]:
    params: dict[str, Any] = {"limit": 50}
    for key, value in template.items():
        params[key] = street if value == "{street}" else value
    return params


async def _client(
    i: int,
    base: str,
    seeded: Seeded,
    stats: LoadStats,
    start_at: float,
    stop_at: float,
    budget: list[int],
    think_s: float,
) -> None:
    rng = np.random.default_rng(1000 + i)
    headers = {name: {"Authorization": f"Bearer {tok}"} for name, tok in seeded.tokens.items()}
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30.0) as client:
        if think_s:  # spread the clients out instead of starting them in one burst
            await asyncio.sleep(float(rng.uniform(0, think_s)))
        while (now := time.perf_counter()) < stop_at and budget[0] > 0:
            who, template = MIX[int(rng.integers(len(MIX)))]
            params = _query(template, seeded.streets[int(rng.integers(len(seeded.streets)))])
            counted = now >= start_at
            if counted:
                budget[0] -= 1
            t0 = time.perf_counter()
            try:
                response = await client.get(
                    f"{API}/forecasts/ranked", params=params, headers=headers[who]
                )
                ms = (time.perf_counter() - t0) * 1000
                if counted:
                    if response.is_success:
                        stats.by_source[response.json()["source"]] += 1
                    else:
                        stats.errors[f"http_{response.status_code}"] += 1
            except httpx.HTTPError as err:
                ms = (time.perf_counter() - t0) * 1000
                if counted:
                    stats.errors[type(err).__name__] += 1
            if counted:
                stats.latencies_ms.append(ms)
            if think_s:
                await asyncio.sleep(think_s * float(rng.uniform(0.5, 1.5)))


def _cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def load(
    base: str,
    server_pid: int | None,
    seeded: Seeded,
    clients: int,
    seconds: float,
    warmup_s: float,
    max_requests: int,
    think_ms: float,
) -> dict[str, Any]:
    """Run the clients; the summary of the requests sent after the warm-up."""
    stats = LoadStats()
    server_cpu0, client_cpu0 = _cpu_seconds(server_pid), time.process_time()
    begin = time.perf_counter()
    start_at, stop_at = begin + warmup_s, begin + warmup_s + seconds
    budget = [max_requests]
    await asyncio.gather(
        *(
            _client(i, base, seeded, stats, start_at, stop_at, budget, think_ms / 1000)
            for i in range(clients)
        )
    )
    wall = time.perf_counter() - start_at
    server_cpu, client_cpu = (
        _cpu_seconds(server_pid) - server_cpu0,
        time.process_time() - client_cpu0,
    )
    lat = np.asarray(stats.latencies_ms)
    q = np.percentile(lat, [50, 90, 99]) if lat.size else [np.nan] * 3
    n_errors = sum(stats.errors.values())
    return {
        "clients": clients,
        "think_ms": think_ms,
        "seconds": round(wall, 2),
        "warmup_s": warmup_s,
        "requests": int(lat.size),
        "throughput_rps": round(lat.size / wall, 1),
        "p50_ms": round(float(q[0]), 2),
        "p90_ms": round(float(q[1]), 2),
        "p99_ms": round(float(q[2]), 2),
        "max_ms": round(float(lat.max()), 2) if lat.size else None,
        "mean_ms": round(float(lat.mean()), 2) if lat.size else None,
        "cpu_s_incl_warmup": {"server": round(server_cpu, 2), "client": round(client_cpu, 2)},
        "server_cpu_ms_per_request": round(1000 * server_cpu / max(len(lat), 1), 2),
        "errors": n_errors,
        "error_kinds": dict(stats.errors),
        "by_source": dict(stats.by_source),
        "target_p99_ms": TARGET_P99_MS,
        "meets_target": bool(lat.size and q[2] < TARGET_P99_MS and n_errors == 0),
    }


# --------------------------------------------------------------------------- conflicts


def _item_url(item_id: str) -> str:
    return f"{API}/review/items/{quote(item_id, safe='/')}"


async def _get_json(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], **params: Any
) -> dict[str, Any]:
    """The JSON body of a GET, or ``{"error": ...}`` when it fails (reported, not raised)."""
    try:
        response = await client.get(path, params=params, headers=headers)
    except httpx.HTTPError as err:
        return {"error": type(err).__name__}
    if not response.is_success:
        return {"error": f"http_{response.status_code}"}
    return dict(response.json())


async def conflicts(base: str, seeded: Seeded, n_items: int, racers: int) -> dict[str, Any]:
    """``racers`` simultaneous approvals of each of ``n_items`` pending items, all with the
    version read beforehand; then the checks (see the module docstring)."""
    items = seeded.pending[:n_items]
    auth = {n: {"Authorization": f"Bearer {t}"} for n, t in seeded.tokens.items()}
    reviewers = ["rev1", "rev2"]
    limits = httpx.Limits(max_connections=racers * n_items)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60.0) as client:
        before = {}
        for item_id in items:
            r = await client.get(_item_url(item_id), headers=auth["rev1"])
            r.raise_for_status()
            before[item_id] = r.json()["version"]
        gate = asyncio.Event()

        async def race(item_id: str, k: int) -> tuple[str, str, float]:
            await gate.wait()
            t0 = time.perf_counter()
            try:
                r = await client.post(
                    f"{_item_url(item_id)}/approve",
                    json={"expected_version": before[item_id], "note": f"racer {k}"},
                    headers=auth[reviewers[k % len(reviewers)]],
                )
                status = str(r.status_code)
            except httpx.HTTPError as err:
                status = type(err).__name__
            return item_id, status, (time.perf_counter() - t0) * 1000

        tasks = [asyncio.create_task(race(item_id, k)) for item_id in items for k in range(racers)]
        await asyncio.sleep(0.05)  # every task parked at the gate
        t0 = time.perf_counter()
        gate.set()
        outcomes = await asyncio.gather(*tasks)
        race_s = time.perf_counter() - t0
        per_item: dict[str, Counter[str]] = {i: Counter() for i in items}
        for item_id, status, _ in outcomes:
            per_item[item_id][status] += 1
        checks = []
        for item_id in items:
            after = await _get_json(client, _item_url(item_id), auth["rev1"])
            trail = await _get_json(
                client, f"{API}/audit", auth["adm"], object_id=item_id, action="approve"
            )
            checks.append(
                {
                    "item_id": item_id,
                    "statuses": dict(per_item[item_id]),
                    "version_before": before[item_id],
                    "version_after": after.get("version"),
                    "state_after": after.get("state"),
                    "approve_audit_entries": trail.get("total"),
                }
            )
        verify = await _get_json(client, f"{API}/audit/verify", auth["adm"])
    totals: Counter[str] = Counter(status for _, status, _ in outcomes)
    latency = np.asarray([ms for _, _, ms in outcomes])
    ok = all(
        c["statuses"].get("200") == 1
        and c["statuses"].get("409", 0) == racers - 1
        and c["version_after"] == c["version_before"] + 1
        and c["state_after"] == "approved"
        and c["approve_audit_entries"] == 1
        for c in checks
    )
    return {
        "items": len(items),
        "racers_per_item": racers,
        "reviewer_tokens": len(reviewers),
        "requests": len(outcomes),
        "race_s": round(race_s, 3),
        "status_counts": dict(totals),
        "server_errors": sum(n for s, n in totals.items() if not s.startswith(("2", "4"))),
        "every_item_one_winner": ok,
        "p50_ms": round(float(np.percentile(latency, 50)), 1) if latency.size else None,
        "max_ms": round(float(latency.max()), 1) if latency.size else None,
        "audit_verify": verify,
        "items_detail": checks,
        "passed": bool(ok and verify.get("ok") is True),
    }


# --------------------------------------------------------------------------- main


def run(args: argparse.Namespace) -> dict[str, Any]:
    # The seeding here and the server below must share the keys (audit chain, sealed notes):
    # throw-away ones for this run, through the environment the server inherits.
    for purpose in PURPOSES:
        os.environ.setdefault(f"RISK_KEY_{purpose.upper()}", secrets.token_hex(32))
    with tempfile.TemporaryDirectory(prefix="api-load-") as tmp:
        folder = Path(tmp)
        database = postgres_schema(args.pg_url) if args.db == "postgresql" else _sqlite(folder)
        with database as url:
            seeded = seed(url, args.grids)
            with server(url, folder, workers=args.workers, app=args.app) as (base, pid):
                load_result = asyncio.run(
                    load(
                        base,
                        pid,
                        seeded,
                        args.clients,
                        args.seconds,
                        args.warmup,
                        args.max_requests,
                        args.think_ms,
                    )
                )
                conflict_result = (
                    asyncio.run(conflicts(base, seeded, args.conflict_items, args.racers))
                    if args.conflict_items > 0
                    else None
                )
    return {
        "benchmark": "api_load",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "db": args.db,
        "server": {"app": args.app, "uvicorn_workers": args.workers, "host": HOST},
        "seed": {
            "grids": args.grids,
            "forecasts": seeded.n_forecasts,
            "review_items": seeded.n_items,
            "approved_items": seeded.n_approved,
            "seconds": round(seeded.seconds, 2),
        },
        "ranked": load_result,
        "conflicts": conflict_result,
    }


@contextmanager
def _sqlite(folder: Path) -> Iterator[str]:
    yield f"sqlite:///{folder / 'risk.db'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds not counted")
    parser.add_argument("--max-requests", type=int, default=200_000)
    parser.add_argument(
        "--think-ms", type=float, default=0.0, help="pause between a client's requests"
    )
    parser.add_argument("--grids", type=int, default=2000)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument(
        "--app",
        default="serve.app:create_app",
        help="app factory to serve (module:function), e.g. a patched one to try a fix",
    )
    parser.add_argument("--conflict-items", type=int, default=10)
    parser.add_argument("--racers", type=int, default=20)
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="default: results/api_load.json (SQLite) or results/api_load_postgresql.json",
    )
    args = parser.parse_args()
    if args.out is None:
        args.out = RESULTS / (
            "api_load.json" if args.db == "sqlite" else f"api_load_{args.db}.json"
        )

    result = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    r, c = result["ranked"], result["conflicts"]
    print(
        f"ranked ({args.db}, {r['clients']} clients, think {r['think_ms']:g} ms, "
        f"{args.workers} worker(s)): {r['requests']} requests in {r['seconds']} s = "
        f"{r['throughput_rps']} req/s; p50 {r['p50_ms']} ms, p90 {r['p90_ms']} ms, "
        f"p99 {r['p99_ms']} ms, max {r['max_ms']} ms; errors {r['errors']} {r['error_kinds']}; "
        f"target p99 < {TARGET_P99_MS:g} ms: {'met' if r['meets_target'] else 'MISSED'}"
    )
    if c is None:
        print("conflicts: skipped (--conflict-items 0)")
    else:
        print(
            f"conflicts: {c['items']} items × {c['racers_per_item']} racers → {c['status_counts']}; "
            f"one winner per item: {c['every_item_one_winner']}; audit verify ok: "
            f"{c['audit_verify'].get('ok')}; 5xx/exceptions: {c['server_errors']}; "
            f"{'passed' if c['passed'] else 'FAILED'}"
        )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
