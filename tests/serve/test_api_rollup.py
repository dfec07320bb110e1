"""The commander's street → community → grid roll-up and the map outlines, through the API.

Seed (tests.serve.api_seed): street s1 = c1 (g1, g2) + c2 (g3); street s2 = c3 (g4, g5).
Every item entered the queue at T0; the three approved ones (g1, g3, g4, target any) and the
rejected one (g2) were decided at T0 + 30 min; the other nine wait (g1 ×3, g2 ×3, g3 ×2, g4).
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
from shapely.geometry import box, shape

from serve.outlines import compute, outlines
from serve.repo import activity
from tests.serve.api_seed import NOW, T0, WINDOW, seed
from tests.serve.test_api_dashboard import clocked, events, get, write

COLUMNS = ("pending", "approved", "dispatched", "completed", "breaches", "closed", "hits")


def table(body):
    return {r["key"]: tuple(r[c] for c in COLUMNS) for r in body["rows"]}


def test_counts_by_street_community_and_grid_in_scope(db_url, tmp_path):
    s = seed(db_url)
    clock = [NOW]
    with clocked(db_url, tmp_path, clock) as c:
        city = get(c, s, "adm", "/dashboard/rollup").json()
        assert (city["level"], city["parent"], city["days"]) == ("street", None, 7)
        # an hour in: nothing is past its 2 h response or 24 h completion target
        assert table(city) == {"s1": (8, 2, 0, 0, 0, 0, 0), "s2": (1, 1, 0, 0, 0, 0, 0)}
        assert [(r["street_id"], r["community_id"], r["grids"]) for r in city["rows"]] == [
            ("s1", None, 3), ("s2", None, 2),
        ]  # fmt: skip
        assert city["total"]["pending"] == 9 and city["total"]["key"] == ""
        s1 = get(c, s, "adm", "/dashboard/rollup?level=community&parent=s1").json()
        assert table(s1) == {"c1": (6, 1, 0, 0, 0, 0, 0), "c2": (2, 1, 0, 0, 0, 0, 0)}
        c1 = get(c, s, "adm", "/dashboard/rollup?level=grid&parent=c1").json()
        assert table(c1) == {"g1": (3, 1, 0, 0, 0, 0, 0), "g2": (3, 0, 0, 0, 0, 0, 0)}

        # cmd sees community c2 (= g3) only: its street holds one grid, other parents are 404
        cmd = get(c, s, "cmd", "/dashboard/rollup").json()
        assert table(cmd) == {"s1": (2, 1, 0, 0, 0, 0, 0)} and cmd["rows"][0]["grids"] == 1
        assert table(get(c, s, "cmd", "/dashboard/rollup?level=community&parent=s1").json()) == {
            "c2": (2, 1, 0, 0, 0, 0, 0)
        }
        for path in ("level=community&parent=s2", "level=grid&parent=c1",
                     "level=grid&parent=nowhere"):  # fmt: skip
            r = get(c, s, "cmd", f"/dashboard/rollup?{path}")
            assert (r.status_code, r.json()["error"]["code"]) == (404, "not_found"), path

        # a day later every waiting item missed its response target, and the approved ones
        # (decided at T0 + 30 min) their completion target; the rejection was in time
        clock[0] = T0 + timedelta(hours=25)
        late = get(c, s, "adm", "/dashboard/rollup").json()
        assert [r["breaches"] for r in late["rows"]] == [8 + 2, 1 + 1]

        bad = get(c, s, "adm", "/dashboard/rollup?level=street&parent=s1")
        assert bad.status_code == 422 and bad.json()["error"]["fields"][0]["field"] == "parent"
        for query in ("level=province", "days=0", "days=91"):
            assert get(c, s, "adm", f"/dashboard/rollup?{query}").status_code == 422
        assert get(c, s, "rev", "/dashboard/rollup").status_code == 403  # reviewers: no
        assert get(c, s, "w1", "/dashboard/rollup").status_code == 403


def test_hit_rate_of_approved_windows_closed_in_the_period(db_url, tmp_path):
    s = seed(db_url)
    later = T0 + WINDOW + timedelta(hours=8)
    ev = events([
        ("g1", "theft", T0 + timedelta(hours=5), T0 + timedelta(hours=6)),  # in g1's window
        ("g3", "fire", T0 + timedelta(hours=10), later + timedelta(hours=1)),  # reported late
        ("g5", "theft", T0 + WINDOW + timedelta(hours=3), T0 + WINDOW + timedelta(hours=3)),
    ])  # fmt: skip
    write(db_url, lambda session: activity.replace_event_counts(session, ev, pd.Timestamp(later)))
    with clocked(db_url, tmp_path, [later]) as c:
        streets = get(c, s, "adm", "/dashboard/rollup").json()
        grids = get(c, s, "adm", "/dashboard/rollup?level=grid&parent=c1").json()
        short = get(c, s, "adm", "/dashboard/rollup?days=0&level=street")
        one_day = get(c, s, "adm", "/dashboard/rollup?days=1").json()
    # approved g1 (hit), g3 (its event not known yet), g4 (none); the rejected g2 is not counted
    assert {r["key"]: (r["closed"], r["hits"], r["hit_rate"]) for r in streets["rows"]} == {
        "s1": (2, 1, 0.5), "s2": (1, 0, 0.0),
    }  # fmt: skip
    assert (streets["total"]["closed"], streets["total"]["hits"]) == (3, 1)
    assert {r["key"]: r["hit_rate"] for r in grids["rows"]} == {"g1": 1.0, "g2": None}
    assert short.status_code == 422
    # the windows closed 8 hours before: inside a one-day period; the items entered 80 h
    # before, outside it, so no state counts there
    assert table(one_day)["s1"] == (0, 0, 0, 0, 0, 2, 1)


def test_outlines_dissolve_the_grids_in_scope(db_url, tmp_path):
    s = seed(db_url)
    with clocked(db_url, tmp_path, [NOW]) as c:
        city = get(c, s, "adm", "/map/outlines").json()
        cmd = get(c, s, "cmd", "/map/outlines").json()
        rev = get(c, s, "rev", "/map/outlines").json()
        assert get(c, s, "w1", "/map/outlines").status_code == 403

    def shapes(features, key):
        return {f["properties"][key]: shape(f["geometry"]) for f in features}

    def same(a, b):
        return a.symmetric_difference(b).area < 1e-12

    # 0.01° squares: g1 | g2 share an edge, g3 touches g2 at one corner, g4 | g5 share an edge
    g = {1: (121.40, 31.20), 2: (121.41, 31.20), 3: (121.42, 31.21)}
    sq = {k: box(x - 0.005, y - 0.005, x + 0.005, y + 0.005) for k, (x, y) in g.items()}
    streets = shapes(city["streets"], "street_id")
    assert streets.keys() == {"s1", "s2"}
    assert streets["s1"].geom_type == "MultiPolygon"  # c1's rectangle and g3, corner to corner
    assert same(streets["s1"], sq[1].union(sq[2]).union(sq[3]))
    assert same(streets["s2"], box(121.495, 31.245, 121.515, 31.255))
    communities = shapes(city["communities"], "community_id")
    assert same(communities["c1"], box(121.395, 31.195, 121.415, 31.205))
    assert [f["properties"] for f in city["communities"]] == [
        {"community_id": "c1", "street_id": "s1"},
        {"community_id": "c2", "street_id": "s1"},
        {"community_id": "c3", "street_id": "s2"},
    ]
    # cmd sees c2 = g3 only: street s1's outline is g3's square, never the grids out of scope
    assert same(shapes(cmd["streets"], "street_id")["s1"], sq[3])
    assert list(shapes(cmd["communities"], "community_id")) == ["c2"]
    assert list(shapes(rev["streets"], "street_id")) == ["s1"]  # reviewer rev: street s1


def test_outlines_without_polygons_are_empty():
    grids = pd.DataFrame(
        {"grid_id": ["a"], "community_id": ["c"], "street_id": ["s"], "geometry": [None]}
    )
    assert compute(grids) == {"streets": [], "communities": []}
    assert compute(grids.iloc[:0]) == {"streets": [], "communities": []}


def test_the_outline_cache_answers_the_same_set_once():
    n = 2
    grids = pd.DataFrame(
        {
            "grid_id": [f"g{i}" for i in range(n)],
            "community_id": "c",
            "street_id": "s",
            "geometry": [
                f'{{"type":"Polygon","coordinates":[[[{i},0],[{i + 1},0],[{i + 1},1],[{i},1],[{i},0]]]}}'
                for i in range(n)
            ],
        }
    )
    first = outlines(grids)
    assert outlines(grids.copy()) is first  # same grids: the cached answer
    moved = grids.assign(street_id=["s", "t"])
    assert [f["properties"]["street_id"] for f in outlines(moved)["streets"]] == ["s", "t"]
