"""A small seeded city for the API tests: grids, one user per role, a run, items in all states.

Streets and grids::

    street s1: community c1 = g1, g2; community c2 = g3
    street s2: community c3 = g4, g5

Users (token = their name in `Seed.tokens`): ana (analyst, city), rev (reviewer, s1),
cmd (commander, community c2 = g3), w1 (grid worker, [g1]), w4 (grid worker, [g4]), adm (admin, city).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import shapely
from fastapi.testclient import TestClient
from sqlalchemy import insert, text

from models.reason_texts import DictFacts, describe, reason_texts
from risk.labels import load_labels
from risk.review import approve, claim, reject, upsert_from_scoring
from risk.scopes import Scope
from risk.settings import Settings
from serve.app import create_app
from serve.db import make_engine, session_factory, transaction
from serve.repo import audit
from serve.repo.grids import upsert_grids
from serve.repo.reviews import insert_item, save_item
from serve.repo.runs import RunInfo, store_run
from serve.repo.users import add_user, issue_token
from serve.tables import GENESIS_HASH, AuditHeadRow, Base

SHANGHAI = timezone(timedelta(hours=8))
T0 = datetime(2024, 5, 1, 8, tzinfo=SHANGHAI)  # issue time of run r1
NOW = T0 + timedelta(hours=1)  # the app's clock in every API test
WINDOW = timedelta(hours=72)
PASSWORD = "correct horse battery"
BASE_PROB = 0.05
# The seeded reasons (`reasons_for`): (group, family, aspects, share of the forecast's points
# above the base); the other factors hold the remaining 20 %.
SEEDED_GROUPS = (
    ("recent", "history", [("", 1.0)], 0.45),
    ("place", "area", [("grid_type", 0.3), ("attr_shops", 0.2)], 0.25),
    ("people", "population", [("elderly_alone_per_1000", 1.0)], 0.10),
)


def reasons_for(target: str, prob: float) -> list[dict]:
    """Three reasons of a `target` warning at `prob`, in the stored shape and worded by the
    real code (`models.reason_texts`): 9 events of the target here in the past 28 days (3 in
    the past 7; a typical grid has 1); an old residential compound with 128 shops (a typical
    grid has 25); 18.2 elderly living alone per 1,000 residents (a typical grid has 6)."""
    facts = DictFacts(
        {
            f"events_28d_{target}": 9.0,
            f"events_7d_{target}": 3.0,
            "grid_type": "old_residential",  # every seeded grid's type
            "attr_shops": 128.0,
            "elderly_alone_per_1000": 18.24,
        },
        {f"events_28d_{target}": 1.0, "attr_shops": 25.0, "elderly_alone_per_1000": 6.04},
    )
    total = 100 * (prob - BASE_PROB)
    labels = load_labels()
    out = []
    for rank, (group, family, aspects, share) in enumerate(SEEDED_GROUPS, start=1):
        words = describe(group, target, facts, aspects, labels)
        points = round(share * total, 2)
        en, zh = reason_texts(words.en, words.zh, points)
        out.append(
            {
                "rank": rank,
                "group": group,
                "family": family,
                "feature": words.feature,
                "value": None if isinstance(words.value, str) else words.value,
                "value_text": words.value_text,
                "median": None if words.median != words.median else words.median,
                "points": points,
                "other_points": round(0.2 * total, 2),
                "base_prob": BASE_PROB,
                "words_en": words.en,
                "words_zh": words.zh,
                "text_en": en,
                "text_zh": zh,
            }
        )
    return out


GRIDS = pd.DataFrame(
    {
        "grid_id": ["g1", "g2", "g3", "g4", "g5"],
        "community_id": ["c1", "c1", "c2", "c3", "c3"],
        "street_id": ["s1", "s1", "s1", "s2", "s2"],
        "grid_type": ["old_residential"] * 5,
        "centroid_lon": [121.40, 121.41, 121.42, 121.50, 121.51],
        "centroid_lat": [31.20, 31.20, 31.21, 31.25, 31.25],
    }
)
# Squares of 0.01° around each centroid (the risk map draws them).
GRIDS["geometry"] = [
    shapely.box(x - 0.005, y - 0.005, x + 0.005, y + 0.005)
    for x, y in zip(GRIDS["centroid_lon"], GRIDS["centroid_lat"], strict=True)
]
USERS = {
    "ana": ("analyst", Scope.city()),
    "rev": ("reviewer", Scope.of("street", ["s1"])),
    "cmd": ("commander", Scope.of("community", ["c2"])),
    "w1": ("grid_worker", Scope.of("grids", ["g1"])),
    "w4": ("grid_worker", Scope.of("grids", ["g4"])),
    "adm": ("admin", Scope.city()),
}
# name -> (grid, target, level, prob, what happens after scoring)
ITEMS = {
    "approve_me": ("g1", "theft", "red", 0.50, "pending"),
    "reject_me": ("g2", "theft", "orange", 0.30, "pending"),
    "escalate_me": ("g1", "dispute", "yellow", 0.20, "pending"),
    "adjust_me": ("g1", "fire_hazard", "orange", 0.25, "pending"),
    "claim_me": ("g2", "fire_hazard", "orange", 0.24, "pending"),
    "release_me": ("g3", "fire_hazard", "orange", 0.23, "claimed"),
    "cmd_escalates": ("g3", "dispute", "orange", 0.22, "pending"),
    "bulk_me": ("g2", "dispute", "orange", 0.21, "pending"),
    "outside": ("g4", "theft", "red", 0.60, "pending"),
    "approved_g1": ("g1", "any", "red", 0.70, "approved"),
    "approved_g3": ("g3", "any", "orange", 0.45, "approved"),
    "approved_g4": ("g4", "any", "orange", 0.40, "approved"),
    "rejected_g2": ("g2", "any", "orange", 0.35, "rejected"),
}


@dataclass
class Seed:
    url: str
    tokens: dict[str, str] = field(default_factory=dict)
    items: dict[str, str] = field(default_factory=dict)  # name -> item id


def empty(url: str) -> None:
    """Every table emptied and the audit chain head reseeded (as the ``db_url`` fixture does)."""
    engine = make_engine(url)
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                conn.execute(text(f"DELETE FROM {name}"))
        conn.execute(insert(AuditHeadRow).values(id=1, last_seq=0, last_hash=GENESIS_HASH))
    engine.dispose()


def forecasts() -> pd.DataFrame:
    """Run r1: every grid × (any, theft); prob 0.1·k for the k-th grid on `any`, half on theft."""
    rows = []
    levels = ["blue", "yellow", "orange", "red", "red"]
    for k, grid in enumerate(GRIDS["grid_id"], start=1):
        rows.append((grid, "any", 0.1 * k, 0.2 * k, levels[k - 1], reasons_for("any", 0.1 * k)))
        rows.append((grid, "theft", 0.05 * k, 0.1 * k, levels[k - 2] if k > 1 else "blue", []))
    return pd.DataFrame(
        rows, columns=["grid_id", "target", "prob", "expected_count", "level", "reasons"]
    )


def seed(url: str, passwords: bool = False) -> Seed:
    out = Seed(url)
    engine = make_engine(url)
    factory = session_factory(engine)
    try:
        with transaction(factory) as s:
            upsert_grids(s, GRIDS)
            for name, (role, scope) in USERS.items():
                add_user(s, name, role, scope, password=PASSWORD if passwords else None, at=T0)
                out.tokens[name] = issue_token(s, name, "api", at=T0)
            run = RunInfo("r1", T0, "m1", "fp1", T0)
            store_run(s, run, forecasts())
            for name, (grid, target, level, prob, fate) in ITEMS.items():
                item, event = upsert_from_scoring(
                    None,
                    grid_id=grid,
                    target=target,
                    window_start=T0,
                    window_end=T0 + WINDOW,
                    prob=prob,
                    level=level,
                    reasons=reasons_for(target, prob),
                    model_version="m1",
                    at=T0,
                    run_id="r1",
                )
                insert_item(s, item)
                audit.append_review_event(s, event)
                later = T0 + timedelta(minutes=30)
                if fate == "approved":
                    new, event = approve(item, "rev", later, 1)
                elif fate == "rejected":
                    new, event = reject(item, "rev", later, 1, "false_alarm")
                elif fate == "claimed":
                    new, event = claim(item, "rev", later, timedelta(hours=4))
                else:
                    new = None
                if new is not None:
                    save_item(s, new, 1)
                    audit.append_review_event(s, event)
                out.items[name] = item.item_id
    finally:
        engine.dispose()
    return out


@contextmanager
def client(url: str, data_dir: Path) -> Iterator[TestClient]:
    """A TestClient on `create_app` for ``url`` with the clock fixed at `NOW`."""
    app = create_app(Settings(data_dir=data_dir, database_url=url), clock=lambda: NOW)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def register_two_versions(data_dir: Path) -> None:
    """A registry in ``data_dir`` with v1 passing every gate and v2 failing calibration."""
    from models.registry import register_model
    from models.tracking import start_run
    from tests.models.test_registry import GOOD, bad_ece

    for version, metrics in ((1, GOOD), (2, bad_ece())):
        model = data_dir / f"model_v{version}.txt"
        model.write_bytes(b"tree\n")
        extra = {"feature_info": [("hist_any_7d", "history")], "training_window": ("a", "b")}
        with start_run("train", data_dir) as run_id:
            register_model(model, run_id, metrics, data_dir=data_dir, **extra)
