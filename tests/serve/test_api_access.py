"""Authorization matrix: every role × every endpoint × in/out of scope → the designed status.

One seeded database per backend; the roles of a case run in the order of `ROLES`, so in a
case where one role may change the item, every role listed before it is refused before
anything is written. Scopes: rev = street s1 (g1-g3), cmd = community c2 (g3), w1 = [g1].
Logout and login are covered in test_api_auth.py (logout would revoke the matrix's tokens).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.serve.api_seed import bearer, client, empty, seed

ROLES = ("anon", "ana", "w1", "adm", "cmd", "rev")


def E(anon: int, ana: int, w1: int, adm: int, cmd: int, rev: int) -> dict[str, int]:
    return dict(zip(ROLES, (anon, ana, w1, adm, cmd, rev), strict=True))


# (case id, method, path, json body, expected status per role)
CASES: list[tuple[str, str, str, Any, dict[str, int]]] = [
    ("health", "GET", "/health", None, E(200, 200, 200, 200, 200, 200)),
    ("me", "GET", "/me", None, E(401, 200, 200, 200, 200, 200)),
    ("ranked", "GET", "/forecasts/ranked", None, E(401, 200, 403, 200, 200, 403)),
    ("map", "GET", "/map", None, E(401, 200, 403, 200, 200, 200)),
    ("kpis", "GET", "/dashboard/kpis", None, E(401, 200, 403, 200, 200, 403)),
    ("outlines", "GET", "/map/outlines", None, E(401, 200, 403, 200, 200, 200)),
    ("rollup", "GET", "/dashboard/rollup", None, E(401, 200, 403, 200, 200, 403)),
    ("model_health", "GET", "/model-health", None, E(401, 200, 403, 200, 403, 403)),
    ("patrol_exposure", "GET", "/patrol-exposure", None, E(401, 200, 403, 200, 403, 403)),
    (  # street s2 lies outside the commander's community c2: like a missing street
        "rollup_outside",
        "GET",
        "/dashboard/rollup?level=community&parent=s2",
        None,
        E(401, 200, 403, 200, 404, 403),
    ),
    ("grid_g1", "GET", "/grids/g1", None, E(401, 200, 200, 200, 404, 200)),
    ("grid_g3", "GET", "/grids/g3", None, E(401, 200, 404, 200, 200, 200)),
    ("grid_g4_outside", "GET", "/grids/g4", None, E(401, 200, 404, 200, 404, 404)),
    ("grid_unknown", "GET", "/grids/g9", None, E(401, 404, 404, 404, 404, 404)),
    ("queue", "GET", "/review/items", None, E(401, 200, 403, 200, 403, 200)),
    ("item_in", "GET", "/review/items/{approve_me}", None, E(401, 200, 403, 200, 403, 200)),
    ("item_outside", "GET", "/review/items/{outside}", None, E(401, 200, 403, 200, 403, 404)),
    (
        "approve_in",
        "POST",
        "/review/items/{approve_me}/approve",
        {"expected_version": 1},
        E(401, 403, 403, 403, 403, 200),
    ),
    (  # out of scope answers like a missing item (404), the other roles may not approve (403)
        "approve_outside",
        "POST",
        "/review/items/{outside}/approve",
        {"expected_version": 1},
        E(401, 403, 403, 403, 403, 404),
    ),
    (
        "reject_in",
        "POST",
        "/review/items/{reject_me}/reject",
        {"expected_version": 1, "reason": "false_alarm"},
        E(401, 403, 403, 403, 403, 200),
    ),
    (  # g1 is outside the commander's community: "not found" for them
        "escalate_reviewer",
        "POST",
        "/review/items/{escalate_me}/escalate",
        {"expected_version": 1},
        E(401, 403, 403, 403, 404, 200),
    ),
    (  # g3: the commander escalates first, so the reviewer's version 1 is stale
        "escalate_commander",
        "POST",
        "/review/items/{cmd_escalates}/escalate",
        {"expected_version": 1},
        E(401, 403, 403, 403, 200, 409),
    ),
    (  # the escalated g3 item (now version 2) handed to the reviewer by the commander
        "assign",
        "POST",
        "/review/items/{cmd_escalates}/assign",
        {"expected_version": 2, "assignee": "rev"},
        E(401, 403, 403, 403, 200, 403),
    ),
    (  # a worker cannot be assigned a review
        "assign_not_reviewer",
        "POST",
        "/review/items/{cmd_escalates}/assign",
        {"expected_version": 3, "assignee": "w1"},
        E(401, 403, 403, 403, 422, 403),
    ),
    (
        "dispatch",
        "POST",
        "/review/items/{approved_g3}/dispatch",
        {"expected_version": 2},
        E(401, 403, 403, 403, 200, 403),
    ),
    (  # w1's scope is g1 only: g3's item is "not found" for them
        "complete",
        "POST",
        "/review/items/{approved_g3}/complete",
        {"expected_version": 3},
        E(401, 403, 404, 403, 200, 403),
    ),
    (
        "adjust",
        "POST",
        "/review/items/{adjust_me}/adjust",
        {"expected_version": 1, "level": "red"},
        E(401, 403, 403, 403, 403, 200),
    ),
    ("claim", "POST", "/review/items/{claim_me}/claim", {}, E(401, 403, 403, 403, 403, 200)),
    (
        "release",
        "POST",
        "/review/items/{release_me}/release",
        {"expected_version": 2},
        E(401, 403, 403, 403, 403, 200),
    ),
    (
        "bulk",
        "POST",
        "/review/bulk",
        {"action": "approve", "items": [{"item_id": "{bulk_me}", "expected_version": 1}]},
        E(401, 403, 403, 403, 403, 200),
    ),
    ("review_stats", "GET", "/review/stats", None, E(401, 200, 403, 200, 403, 403)),
    ("live_accuracy", "GET", "/review/live-accuracy", None, E(401, 200, 403, 200, 403, 403)),
    ("patrols_today", "GET", "/patrols/today", None, E(401, 403, 200, 200, 200, 403)),
    (
        "report_own_grid",
        "POST",
        "/patrols/reports",
        {"client_report_id": "m-1", "grid_id": "g1", "outcome": "nothing_found"},
        E(401, 403, 201, 403, 403, 403),
    ),
    (  # g4 is not w1's: "not found", like a missing grid
        "report_other_grid",
        "POST",
        "/patrols/reports",
        {"client_report_id": "m-2", "grid_id": "g4", "outcome": "found_issue"},
        E(401, 403, 404, 403, 403, 403),
    ),
    (  # a worker reports an event in their own grid (tests/serve/test_api_worker_events.py)
        "worker_event_own_grid",
        "POST",
        "/worker/events",
        {"client_event_id": "m-3", "grid_id": "g1", "category": "theft"},
        E(401, 403, 201, 403, 403, 403),
    ),
    (  # g4 is not w1's: "not found", like a missing grid
        "worker_event_other_grid",
        "POST",
        "/worker/events",
        {"client_event_id": "m-4", "grid_id": "g4", "category": "theft"},
        E(401, 403, 404, 403, 403, 403),
    ),
    (  # only integration accounts post events (tests/serve/test_api_events.py)
        "post_events",
        "POST",
        "/events",
        {"events": [{"occurred_at": "2024-05-01T08:00:00", "category": "theft", "grid_id": "g1"}]},
        E(401, 403, 403, 403, 403, 403),
    ),
    ("models", "GET", "/models", None, E(401, 200, 403, 200, 403, 403)),
    ("model_card", "GET", "/models/1/card", None, E(401, 404, 403, 404, 403, 403)),
    ("promote", "POST", "/models/1/promote", {}, E(401, 403, 403, 404, 403, 403)),
    ("audit", "GET", "/audit", None, E(401, 403, 403, 200, 403, 403)),
    ("audit_verify", "GET", "/audit/verify", None, E(401, 403, 403, 200, 403, 403)),
]


@pytest.fixture(scope="session")
def mlflow_dir(tmp_path_factory):
    """One (empty) MLflow store for both backends: creating it takes seconds."""
    return tmp_path_factory.mktemp("mlflow")


@pytest.fixture(scope="module")
def matrix(migrated_url, mlflow_dir):
    empty(migrated_url)
    s = seed(migrated_url)
    with client(migrated_url, mlflow_dir) as c:
        yield c, s
    empty(migrated_url)


def _fill(value: Any, items: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**items)
    if isinstance(value, dict):
        return {k: _fill(v, items) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, items) for v in value]
    return value


@pytest.mark.parametrize(
    ("method", "path", "body", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_each_role_gets_the_designed_status(matrix, method, path, body, expected):
    c, s = matrix
    url = "/api/v1" + _fill(path, s.items)
    got = {}
    for role in ROLES:
        headers = {} if role == "anon" else bearer(s.tokens[role])
        r = c.request(method, url, json=_fill(body, s.items), headers=headers)
        got[role] = r.status_code
        if r.status_code >= 400:  # the one error shape
            assert set(r.json()["error"]) == {"code", "message", "fields"}
    assert got == expected


def test_every_route_of_the_api_is_in_the_matrix(matrix):
    c, _ = matrix
    spec = c.get("/api/v1/openapi.json").json()
    routes = {
        (method.upper(), path.removeprefix("/api/v1"))
        for path, ops in spec["paths"].items()
        for method in ops
    }
    covered = {(m, _template(p)) for _, m, p, _, _ in CASES}
    # logout / login / renewal revoke or mint tokens: covered in test_api_auth.py and
    # tests/security/test_token_expiry.py
    mint = {("POST", "/auth/logout"), ("POST", "/auth/login"), ("POST", "/auth/tokens/renew")}
    missing = routes - covered - mint
    assert missing == set()


def _template(path: str) -> str:
    """A case path with its seeded ids turned back into the route's parameter."""
    import re

    path = re.sub(r"/review/items/\{\w+\}", "/review/items/{item_id}", path)
    path = re.sub(r"/grids/g\d+", "/grids/{grid_id}", path)
    path = re.sub(r"/models/\d+", "/models/{version}", path)
    return path.split("?")[0]
