"""The label table: packaged words, a city's own file merged over them, the raw value for
anything unnamed, and the check (`risk labels`) that lists what the data holds unnamed."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from risk.cli import app
from risk.contract import GRID_TYPES, SOURCES
from risk.errors import ConfigError
from risk.labels import load_labels
from risk.synth.params import CATEGORIES

runner = CliRunner()


def test_the_packaged_table_names_every_contract_value_in_both_languages():
    table = load_labels()
    assert (
        table.missing(
            targets=["any", *CATEGORIES],
            grid_types=GRID_TYPES,
            sources=SOURCES,
            attributes=["shops"],
        )
        == {}
    )
    assert (table.grid_type("industrial", "en"), table.grid_type("industrial", "zh")) == (
        "industrial area",
        "工业区",
    )
    assert table.target("theft", "en", plural=False) == "theft"
    assert table.target("fire_hazard", "en") == "fire hazards"
    assert table.target("petition", "zh") == "信访"
    assert table.attribute("shops", "zh", "128") == "商铺128家"
    assert table.source("hotline", "zh") == "热线"
    assert table.group("long_term", "en", "theft") == "thefts here over the past year"
    assert table.group("long_term", "zh", "theft") == "本网格近一年盗窃"


def test_an_unnamed_value_is_shown_as_itself():
    table = load_labels()
    assert table.grid_type("harbour", "zh") == "harbour"
    assert table.target("noise_complaint", "en") == "noise complaint"
    assert table.attribute("parks", "en", "2") == "parks: 2"
    assert table.attribute("parks", "zh", "2") == "parks：2"


def test_a_city_file_adds_and_overrides_entries(tmp_path):
    city = tmp_path / "city.toml"
    city.write_text(
        '[grid_types.harbour]\nen = "harbour district"\nzh = "港区"\n'
        '[attributes.parks]\nen = "{value} parks"\nzh = "公园{value}个"\n'
        '[targets.theft]\nen = "theft"\nen_plural = "thefts"\nzh = "偷盗"\n',
        encoding="utf-8",
    )
    table = load_labels(city)
    assert table.grid_type("harbour", "zh") == "港区"
    assert table.attribute("parks", "zh", "2") == "公园2个"
    assert table.target("theft", "zh") == "偷盗"
    assert table.grid_type("rural", "zh") == "农村"  # the packaged entries stay


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[grid_type.harbour]\nen = "x"\nzh = "y"\n', r"unknown section \[grid_type\]"),
        ('[grid_types.harbour]\nen = "harbour"\n', r"\[grid_types.harbour\] needs the text zh"),
        ('[attributes.parks]\nen = "parks"\nzh = "公园"\n', "must hold {value}"),
        ("[grid_types\n", "not valid TOML"),
    ],
)
def test_a_bad_city_file_is_refused_naming_the_entry(tmp_path, text, message):
    city = tmp_path / "city.toml"
    city.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_labels(city)


def test_a_missing_city_file_is_refused():
    with pytest.raises(ConfigError, match="label file not found"):
        load_labels("/nonexistent/labels.toml")


def test_risk_labels_lists_what_the_data_holds_unnamed(tmp_path):
    out = tmp_path / "city"
    assert (
        runner.invoke(app, ["synth", "--out", str(out), "--grids", "16", "--days", "30"]).exit_code
        == 0
    )
    grids, events = out / "grids.geojson", out / "events.csv"
    result = runner.invoke(app, ["labels", "--grids", str(grids), "--events", str(events)])
    assert result.exit_code == 0, result.output
    assert "every value of the data has a label" in result.output
    data = json.loads(grids.read_text())
    data["features"][0]["properties"]["grid_type"] = "harbour"
    grids.write_text(json.dumps(data))
    result = runner.invoke(app, ["labels", "--grids", str(grids), "--events", str(events)])
    assert result.exit_code == 1
    assert "[grid_types] harbour" in result.output
    city = tmp_path / "city.toml"
    city.write_text('[grid_types.harbour]\nen = "harbour district"\nzh = "港区"\n')
    result = runner.invoke(
        app, ["labels", "--grids", str(grids), "--events", str(events), "--labels", str(city)]
    )
    assert result.exit_code == 0, result.output
