"""The one switch to a Dask cluster (issue 18): unset changes nothing and imports no Dask;
`local` and an address give a client; a bad value is one line and exit 4."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal
from typer.testing import CliRunner

from risk import cluster
from risk.cli import EXIT_CONFIG, app
from risk.cluster import check_scheduler, dask_client, local_sizing, scheduler_from_env
from risk.errors import ConfigError

runner = CliRunner()


def test_without_the_switch_no_module_imports_dask():
    code = (
        "import sys\n"
        "import risk.cli, risk.cluster, features.partition, models.predict_explain\n"
        "import serve.scoring, serve.jobs, serve.app\n"
        "import models.distributed, models.training, models.backtest\n"
        "from risk.cli import app\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed'))\n"
        "print(loaded)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("  ", None),
        ("local", "local"),
        ("LOCAL", "local"),
        ("tcp://10.0.0.5:8786", "tcp://10.0.0.5:8786"),
        ("scheduler.internal:8786", "scheduler.internal:8786"),
        ("tls://[::1]:8786", "tls://[::1]:8786"),
    ],
)
def test_accepted_schedulers(value, expected):
    assert check_scheduler(value) == expected


@pytest.mark.parametrize("value", ["yes", "tcp://host", "http//x:1", "8786"])
def test_other_values_are_refused_naming_what_is_accepted(value):
    with pytest.raises(ConfigError, match="takes 'local' or a scheduler address"):
        check_scheduler(value)


def test_the_environment_variable_is_the_default(monkeypatch):
    monkeypatch.setenv("RISK_DASK_SCHEDULER", "local")
    assert scheduler_from_env() == "local"
    assert scheduler_from_env("tcp://a:1") == "tcp://a:1"  # the option wins
    monkeypatch.delenv("RISK_DASK_SCHEDULER")
    assert scheduler_from_env() is None


def test_local_sizing_is_one_single_threaded_worker_per_core_sharing_memory():
    assert local_sizing(cpus=4, memory_bytes=16 * 2**30) == {
        "n_workers": 4,
        "threads_per_worker": 1,
        "memory_limit": 4 * 2**30,
    }


def test_no_scheduler_gives_no_client():
    with dask_client(None, echo=pytest.fail) as client:
        assert client is None


def test_an_address_connects_to_that_cluster_and_prints_its_dashboard(dask_client):
    lines: list[str] = []
    address = dask_client.scheduler.address
    with cluster.dask_client(address, echo=lines.append) as client:
        assert len(client.nthreads()) == 2
        assert client.submit(abs, -3).result() == 3
    port = dask_client.scheduler_info()["services"]["dashboard"]
    assert lines == [
        f"Dask cluster {address} (2 workers); dashboard: http://127.0.0.1:{port}/status"
    ]
    assert dask_client.submit(abs, -4).result() == 4  # our connection closed, the cluster not


@pytest.mark.parametrize(
    "command",
    [
        ["features", "--start", "2024-01-01", "--end", "2024-01-02", "--out", "f.parquet"],
        ["backtest", "--start", "2024-01-01", "--end", "2024-01-02", "--out", "bt"],
        ["train", "--backtest", "bt"],
        ["score", "--at", "2024-01-02T08:00"],
    ],
    ids=lambda c: c[0],
)
def test_cli_refuses_a_bad_scheduler_in_one_line_before_any_work(command, monkeypatch):
    files = ["--grids", "nope.geojson", "--events", "nope.csv"]
    result = runner.invoke(app, [*command, *files, "--dask", "yes"])
    assert result.exit_code == EXIT_CONFIG
    assert "takes 'local' or a scheduler address" in result.output
    assert "Traceback" not in result.output
    monkeypatch.setenv("RISK_DASK_SCHEDULER", "nope")  # the variable is checked the same way
    result = runner.invoke(app, [*command, *files])
    assert result.exit_code == EXIT_CONFIG
    assert "got 'nope'" in result.output


def test_cli_features_on_a_cluster_write_the_single_process_frame(tmp_path, dask_client):
    city = tmp_path / "city"
    done = runner.invoke(app, ["synth", "--out", str(city), "--grids", "64", "--days", "60"])
    assert done.exit_code == 0, done.output
    frames = {}
    for name, extra in (("one", []), ("many", ["--dask", dask_client.scheduler.address])):
        out = tmp_path / f"{name}.parquet"
        result = runner.invoke(
            app,
            ["features", "--grids", str(city / "grids.geojson"), "--events",
             str(city / "events.csv"), "--start", "2024-02-20", "--end", "2024-02-22",
             "--out", str(out), *extra],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        frames[name] = pd.read_parquet(out)
    assert "dashboard:" in result.output  # the --dask run names its cluster
    assert len(frames["one"]) == 3 * 64
    assert_frame_equal(frames["many"], frames["one"], check_exact=True)
