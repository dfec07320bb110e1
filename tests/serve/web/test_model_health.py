"""The analyst page's model health in the browser (issue 17, item 1): the banner of the latest
run past a threshold, the mark on the flagged model version, and the charts over runs.

Nine daily scoring runs of model version 1 before the seeded run r1 (`HEALTH_RUNS`), stored
with their health records as `serve.run_health` writes them: scores and inputs steady, the
first six realised once their windows closed, and the ninth past three thresholds (score PSI
of ``any`` 0.31 and the history family's 1.2 above their alert levels, inputs out of range
8 % above the warning level).
"""

from __future__ import annotations

import os
from datetime import timedelta

import pandas as pd
import pytest

from serve.db import make_engine, session_factory, transaction
from serve.repo import health as repo
from serve.repo.runs import RunInfo, store_run
from tests.serve.api_seed import T0, register_two_versions
from tests.serve.web.conftest import SCREENSHOTS, no_horizontal_scroll, shot

pytestmark = pytest.mark.browser

N = 9
LAST = [
    {"metric": "score_psi", "key": "any", "value": 0.31, "severity": "alert", "threshold": 0.25},
    {"metric": "family_psi", "key": "history", "value": 1.2, "severity": "alert",
     "threshold": 0.5},
    {"metric": "out_of_range_share", "key": None, "value": 0.08, "severity": "warn",
     "threshold": 0.05},
]  # fmt: skip


def realised(k: int) -> dict:
    bins = [{"n": 10, "mean_prob": 0.1 * b + 0.05, "observed": 0.1 * b + 0.04} for b in range(10)]
    target = {"n": 100, "came_true": 40, "ece": 0.02 + 0.005 * k, "bins": bins}
    return {
        "targets": {"any": target, "theft": {**target, "ece": 0.03}},
        "levels": {
            "red": {"n": 10, "came_true": 8 - (k % 2), "precision": (8 - (k % 2)) / 10},
            "orange": {"n": 20, "came_true": 13, "precision": 0.65},
            "yellow": {"n": 30, "came_true": 14, "precision": 14 / 30},
        },
    }


def add_health(url: str) -> None:
    engine = make_engine(url)
    try:
        with transaction(session_factory(engine)) as s:
            for k in range(N):
                at = T0 - timedelta(days=N - k)
                run_id = f"h{k}"
                store_run(s, RunInfo(run_id, at, "1", "fp", at), pd.DataFrame(
                    columns=["grid_id", "target", "prob", "expected_count", "level", "reasons"]
                ))  # fmt: skip
                last = k == N - 1
                repo.store_health(
                    s,
                    repo.HealthRecord(
                        run_id=run_id,
                        computed_at=at,
                        status="alert" if last else "ok",
                        drift={
                            "score_psi": {"any": 0.31 if last else 0.02 + 0.004 * k, "theft": 0.05},
                            "family_psi": {
                                "history": 1.2 if last else 0.06,
                                "area": 0.0,
                                "neighbourhood": 0.12 + 0.01 * k,
                            },
                            "missing_share": 0.0,
                            "out_of_range_share": 0.08 if last else 0.01,
                            "grids": 100,
                            "top_features": [["events_7d_any", 1.2 if last else 0.06]],
                            "features_checked": 77,
                            "features_unchecked": 44,
                        },
                        volumes={"resident": 20 + k, "hotline": 15, "patrol": 5 + 2 * k},
                        breaches=LAST if last else [],
                        realised=realised(k) if k < 6 else None,
                        realised_at=at + timedelta(days=3) if k < 6 else None,
                        realised_by=f"h{k + 3}" if k < 6 else None,
                    ),
                )
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def live_data_dir(tmp_path_factory):
    saved = os.environ.pop("RISK_MLFLOW_URI", None)
    data_dir = tmp_path_factory.mktemp("registry")
    register_two_versions(data_dir)
    yield data_dir
    if saved is not None:
        os.environ["RISK_MLFLOW_URI"] = saved


@pytest.fixture(scope="module")
def live_extra():
    return add_health


def loaded(page) -> None:
    page.wait_for_function("document.body.dataset.loaded === '1'")


def series(page, chart: str) -> dict[str, int]:
    """Points per series of one chart."""
    return page.eval_on_selector_all(
        f'[data-chart="{chart}"] g[data-series]',
        "gs => Object.fromEntries(gs.map(g => [g.dataset.series, g.querySelectorAll('circle').length]))",
    )


def test_the_banner_the_mark_and_the_charts(open_as):
    page = open_as("ana", "/analyst")
    loaded(page)
    banner = page.locator("#health-banner")
    assert banner.is_visible()
    assert banner.get_attribute("class") == "alert alert-error"
    lines = banner.inner_text().split("\n")
    assert lines[0] == "模型健康告警：2024-04-30 08:00 的预测运行超出告警阈值。 查看模型健康"
    assert lines[1:] == [
        "预测分数 PSI [任意事件] 0.310 > 告警阈值 0.25",
        "特征族 PSI [历史事件] 1.200 > 告警阈值 0.5",
        "输入超出训练范围的网格占比 8.0% > 提示阈值 5.0%",
    ]
    # the flagged version is marked in the versions table
    assert page.locator('#versions tr[data-version="1"] .health-chip').inner_text() == "⚠ 健康告警"
    assert page.locator('#versions tr[data-version="2"] .health-chip').count() == 0
    assert page.locator("#health-status").get_attribute("data-status") == "alert"
    # seven charts, each series with a point per run that has the value
    charts = page.locator("#health-charts figure").evaluate_all(
        "fs => fs.map(f => f.dataset.chart)"
    )
    assert charts == [
        "score_psi", "family_psi", "missing_share", "out_of_range_share", "ece", "precision",
        "volumes",
    ]  # fmt: skip
    assert series(page, "score_psi") == {"any": N, "theft": N}
    assert series(page, "family_psi") == {"area": N, "history": N, "neighbourhood": N}
    assert series(page, "ece") == {"any": 6, "theft": 6}  # realised runs only
    assert series(page, "precision") == {"red": 6, "orange": 6, "yellow": 6}
    assert series(page, "volumes") == {"hotline": N, "patrol": N, "resident": N}
    # the thresholds, dashed, with their values
    score = page.locator('[data-chart="score_psi"]')
    assert score.locator("line.threshold").evaluate_all(
        "ls => ls.map(l => l.dataset.threshold)"
    ) == ["warn", "alert"]
    assert score.locator("text.threshold-label").all_text_contents() == ["提示 0.1", "告警 0.25"]
    assert score.locator("svg").get_attribute("aria-label") == (
        "预测分数 PSI（按事件类别）: 任意事件 0.31, 盗窃 0.05"
    )
    assert page.locator('[data-chart="precision"] .chart-legend').inner_text().split("\n") == [
        "红色", "橙色", "黄色",
    ]  # fmt: skip
    shot(page, "analyst_model_health_zh")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#health").screenshot(path=str(SCREENSHOTS / "analyst_model_health_charts_zh.png"))


def test_the_banner_in_english_and_on_a_phone(open_as):
    page = open_as("ana", "/analyst", lang="en")
    loaded(page)
    banner = page.locator("#health-banner")
    assert banner.inner_text().split("\n")[1] == "Score PSI [Any event] 0.310 > alert level 0.25"
    assert page.locator("#health-heading").inner_text() == "Model health"
    assert page.locator('[data-chart="volumes"] .chart-legend').inner_text().split("\n") == [
        "Hotline", "Patrols", "Residents",
    ]  # fmt: skip
    shot(page, "analyst_model_health_en", full_page=True)
    phone = open_as("ana", "/analyst", width=360)
    loaded(phone)
    assert phone.locator("#health-banner").is_visible()
    assert no_horizontal_scroll(phone)
