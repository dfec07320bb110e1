"""Patrol exposure for analysts (issue 17, item 2), on SQLite and PostgreSQL: visits per grid
type and street over the last days, city-wide aggregates only, for those who see models.

The app's clock is 2024-05-01 09:00 +08:00; with ?days=7 the days are the 24-hour windows
ending at 09:00 on 04-25 .. 05-01, i.e. visits after 04-24 09:00 up to now. Streets: s1 = g1,
g2, g3; s2 = g4, g5; every grid old_residential."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.serve.api_seed import SHANGHAI, bearer, client, seed


@pytest.fixture
def api(db_url, tmp_path):
    s = seed(db_url)
    with client(db_url, tmp_path) as c:
        yield c, s


def patrol(c, s, who, cid, outcome, at, grid):
    at = datetime.fromisoformat(at).replace(tzinfo=SHANGHAI).isoformat()
    body = {"client_report_id": cid, "grid_id": grid, "outcome": outcome, "at": at}
    r = c.post("/api/v1/patrols/reports", json=body, headers=bearer(s.tokens[who]))
    assert r.status_code == 201, r.text


def test_visits_per_street_and_grid_type_for_analysts(api):
    c, s = api
    patrol(c, s, "w1", "a", "nothing_found", "2024-05-01 08:00", "g1")
    patrol(c, s, "w1", "b", "nothing_found", "2024-04-29 09:00", "g1")
    patrol(c, s, "w1", "c", "could_not_visit", "2024-05-01 08:30", "g1")  # not a visit
    patrol(c, s, "w1", "d", "nothing_found", "2024-04-20 09:00", "g1")  # before the 7 days
    patrol(c, s, "w4", "e", "nothing_found", "2024-04-30 22:00", "g4")
    r = c.get("/api/v1/patrol-exposure?days=7", headers=bearer(s.tokens["ana"]))
    assert r.status_code == 200, r.text
    out = r.json()
    # 3 visits (a, b on g1; e on g4) over 5 grids × 7 days
    assert (out["visits"], out["grids_visited"], out["grids"], out["days"]) == (3, 2, 5, 7)
    assert out["visits_per_grid_day"] == pytest.approx(3 / 35)
    assert out["by_street"]["s1"] == {
        "grids": 3, "visits": 2, "visits_per_grid_day": pytest.approx(2 / 21),
        "share_of_visits": pytest.approx(2 / 3),
    }  # fmt: skip
    assert out["by_street"]["s2"]["visits_per_grid_day"] == pytest.approx(1 / 14)
    assert out["by_grid_type"]["old_residential"]["visits"] == 3


@pytest.mark.parametrize(("who", "status"), [("rev", 403), ("w1", 403), ("adm", 200)])
def test_only_those_who_see_models_see_exposure(api, who, status):
    c, s = api
    r = c.get("/api/v1/patrol-exposure", headers=bearer(s.tokens[who]))
    assert r.status_code == status
    if status == 200:  # no visit yet: zero visits, no share to divide
        assert r.json()["visits"] == 0
        assert r.json()["by_street"]["s1"]["share_of_visits"] is None


def test_a_bad_number_of_days_is_a_422_on_days(api):
    c, s = api
    r = c.get("/api/v1/patrol-exposure?days=0", headers=bearer(s.tokens["ana"]))
    assert r.status_code == 422
    assert [f["field"] for f in r.json()["error"]["fields"]] == ["days"]
