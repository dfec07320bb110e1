"""The analyst notebooks run top to bottom on a small synthetic city."""

from __future__ import annotations

from pathlib import Path

import jupytext
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.py"))


def test_both_notebooks_are_there():
    assert [p.name for p in NOTEBOOKS] == ["01_backtest_and_compare.py", "02_explain_a_forecast.py"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes(path, monkeypatch, tmp_path):
    for key, value in {
        "NB_GRIDS": "36",
        "NB_DAYS": "120",
        "NB_EVAL_DAYS": "7",
        "NB_FAST": "1",
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }.items():
        monkeypatch.setenv(key, value)
    notebook = jupytext.read(path)
    NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()
    outputs = [
        o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])
    ]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert "grids" in text or "trained" in text
