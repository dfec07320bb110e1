"""Hostile or careless input files (issue 14, items 6 and 7): out-of-range timestamps are
quarantined row by row and the counts add up; a file's text encoding is given or detected,
never guessed — a Latin-1 ``théft`` never becomes ``th閒t``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from risk.cli import EXIT_INPUT, app
from risk.errors import ContractError
from risk.loaders import load_events, load_grids
from risk.text_encoding import resolve_encoding

runner = CliRunner()
GRIDS = Path(__file__).resolve().parents[1] / "fixtures" / "contract" / "grids.geojson"
HEADER = "event_id,occurred_at,reported_at,category,grid_id\n"
NOW = pd.Timestamp("2024-06-01 00:00", tz="Asia/Shanghai")


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


@pytest.fixture
def grids():
    return load_grids(GRIDS).valid


@pytest.fixture
def dated(tmp_path) -> Path:
    rows = [
        "e1,2024-05-01 08:00,2024-05-01 09:00,theft,g00",
        "e2,9999-12-31,,theft,g00",  # pandas parses it, but not in nanoseconds
        "e3,1677-01-01,,theft,g00",
        "e4,2024-05-01 08:00,9999-12-31T23:59:59Z,theft,g00",
        "e5,2024-05-02 08:00,,dispute,g01",
        "e5,2024-05-02 08:00,,dispute,g01",  # an exact duplicate
    ]
    return write(tmp_path / "events.csv", HEADER + "\n".join(rows) + "\n")


def test_out_of_range_times_are_quarantined_row_by_row(dated, tmp_path):
    quarantine = tmp_path / "q.csv"
    result = runner.invoke(
        app,
        [
            "validate",
            "--grids",
            str(GRIDS),
            "--events",
            str(dated),
            "--quarantine",
            str(quarantine),
        ],
    )
    assert result.exit_code == 0, result.output
    q = pd.read_csv(quarantine, dtype=str)
    assert q[["row", "reason", "detail"]].values.tolist() == [
        ["3", "bad_occurred_at", "occurred_at='9999-12-31'"],
        ["4", "bad_occurred_at", "occurred_at='1677-01-01'"],
        ["5", "bad_reported_at", "reported_at='9999-12-31T23:59:59Z'"],
    ]
    # 6 rows = 2 valid + 3 quarantined + 1 exact duplicate
    events = load_events(dated, load_grids(GRIDS).valid, now=NOW)
    assert (len(events.valid), len(events.quarantined), events.duplicates) == (2, 3, 1)


def test_import_quarantines_them_too_and_writes_the_rest(dated, tmp_path):
    out, quarantine = tmp_path / "out.csv", tmp_path / "q.csv"
    result = runner.invoke(
        app,
        [
            "import", "--events", str(dated), "--out", str(out), "--quarantine", str(quarantine),
            "--time-col", "occurred_at", "--reported-col", "reported_at",
            "--category-col", "category", "--grid-col", "grid_id", "--id-col", "event_id",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert pd.read_csv(out)["event_id"].tolist() == ["e1", "e5"]
    assert pd.read_csv(quarantine)["reason"].tolist() == [
        "bad_occurred_at",
        "bad_occurred_at",
        "bad_reported_at",
    ]


def test_a_strptime_format_out_of_range_is_quarantined(tmp_path):
    from risk.importer import ColumnMapping, import_events

    path = write(
        tmp_path / "raw.csv",
        "when,what,grid\n05/01/2024 08:00,theft,g00\n12/31/9999 08:00,theft,g00\n",
    )
    mapping = ColumnMapping(
        time_col="when", category_col="what", grid_col="grid", time_format="%m/%d/%Y %H:%M"
    )
    result = import_events(path, mapping, now=NOW)
    assert (len(result.events), result.counts_by_reason()) == (1, {"bad_occurred_at": 1})


def test_a_latin1_file_is_never_read_as_gb18030(tmp_path, grids):
    # One word: its bytes read cleanly both ways, so the loader refuses to pick one ...
    short = write(tmp_path / "short.csv", HEADER + "e1,2024-05-01 08:00,,théft,g00\n", "latin-1")
    with pytest.raises(ContractError) as refused:
        load_events(short, grids, now=NOW)
    assert "'e1,2024-05-01 08:00,,théft,g00') or as gb18030 ('e1,2024-05-01 08:00,,th閒t,g00')" in (
        str(refused.value)
    )
    assert "Fix: pass --encoding cp1252 or --encoding gb18030" in str(refused.value)
    given = load_events(short, grids, now=NOW, encoding="latin-1")
    assert given.valid["category"].tolist() == ["théft"]
    # ... with more text the GB18030 reading is clearly the garbled one
    longer = write(
        tmp_path / "longer.csv",
        HEADER
        + "e1,2024-05-01 08:00,,théft,g00\n"
        + "e2,2024-05-02 08:00,,dégât des eaux,g00\n"
        + "e3,2024-05-03 08:00,,vol à la tire,g01\n",
        "latin-1",
    )
    detected = load_events(longer, grids, now=NOW).valid["category"].tolist()
    assert detected == ["théft", "dégât_des_eaux", "vol_à_la_tire"]


def test_an_encoding_that_cannot_be_told_stops_with_the_fix(tmp_path):
    # The same bytes are 纠纷 in GB18030 and ¾À·× in Windows-1252: both read as clean text.
    path = write(tmp_path / "short.csv", HEADER + "e1,2024-05-01 08:00,,纠纷,g00\n", "gb18030")
    result = runner.invoke(app, ["validate", "--grids", str(GRIDS), "--events", str(path)])
    assert result.exit_code == EXIT_INPUT
    message = result.output.strip()
    assert len(message.splitlines()) == 1 and "Traceback" not in result.output
    assert message.startswith("error: short.csv: cannot tell the text encoding")
    assert "'e1,2024-05-01 08:00,,纠纷,g00'" in message and "cp1252" in message
    assert message.endswith("Fix: pass --encoding cp1252 or --encoding gb18030, whichever "
                            "reading above is the file's text")  # fmt: skip
    named = runner.invoke(
        app, ["validate", "--grids", str(GRIDS), "--events", str(path), "--encoding", "gb18030"]
    )
    assert named.exit_code == 0, named.output


def test_utf8_and_gb18030_files_need_no_option(tmp_path, grids):
    text = HEADER + "e1,2024-05-01 08:00,,邻里纠纷,g00\ne2,2024-05-01 09:00,,火灾隐患,g01\n"
    for encoding in ("utf-8", "utf-8-sig", "gb18030"):
        path = write(tmp_path / f"{encoding}.csv", text, encoding)
        valid = load_events(path, grids, now=NOW).valid
        assert valid["category"].tolist() == ["邻里纠纷", "火灾隐患"], encoding
    assert resolve_encoding(tmp_path / "gb18030.csv") == "gb18030"


def test_an_unknown_encoding_name_is_a_setting_error(tmp_path):
    path = write(tmp_path / "e.csv", HEADER + "e1,2024-05-01 08:00,,theft,g00\n")
    result = runner.invoke(
        app, ["validate", "--grids", str(GRIDS), "--events", str(path), "--encoding", "klingon"]
    )
    assert result.exit_code == 4
    assert "unknown text encoding 'klingon'" in result.output


def test_a_wrong_encoding_given_is_a_clear_input_error(tmp_path):
    path = write(tmp_path / "e.csv", HEADER + "e1,2024-05-01 08:00,,théft,g00\n", "latin-1")
    result = runner.invoke(
        app, ["validate", "--grids", str(GRIDS), "--events", str(path), "--encoding", "utf-8"]
    )
    assert result.exit_code == EXIT_INPUT
    assert result.output.startswith("error: e.csv: cannot read the file as utf-8")
    assert "Traceback" not in result.output
