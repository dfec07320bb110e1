"""The README's table of risk levels is the committed benchmarks' (backtest.json, Chicago)."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.backtest import level_rows, levels_markdown, red_precision_bars

ROOT = Path(__file__).resolve().parents[2]


def committed_levels() -> dict[str, dict]:
    results = ROOT / "benchmarks" / "results"
    synthetic = json.loads((results / "backtest.json").read_text(encoding="utf-8"))
    chicago = json.loads((results / "chicago" / "metrics.json").read_text(encoding="utf-8"))
    return {
        "synthetic, 2,000 grids": synthetic["levels"],
        "Chicago, 500 m": level_rows(chicago),
    }


def test_readme_shows_the_committed_levels():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert levels_markdown(committed_levels()) in readme


def test_levels_table_and_red_bar_by_hand():
    metrics = {
        "targets": {
            "any": {"levels": {"measured": {
                "red": {"flagged": 80, "share": 0.02, "precision": 0.75, "recall": 0.1},
                "orange": {"flagged": 0, "share": 0.0, "precision": None, "recall": 0.0},
                "yellow": {"flagged": 400, "share": 0.1, "precision": 0.41, "recall": 0.3},
            }}},
            "fraud": {"levels": {"measured": {
                "red": {"flagged": 0, "share": 0.0, "precision": None, "recall": 0.0},
            }}},
        }
    }  # fmt: skip
    rows = level_rows(metrics)
    assert levels_markdown({"city": rows}).splitlines()[2:] == [
        "| city | any | 2.0% · 0.75 | — | 10.0% · 0.41 |",
        "| city | fraud | — | — | — |",
    ]
    bars = red_precision_bars(metrics)
    assert list(bars) == ["any red precision"]  # fraud never issued red: no bar
    assert (bars["any red precision"]["passed"], bars["any red precision"]["flagged"]) == (
        False,
        80,
    )
