"""What a benchmark JSON says about its machine."""

from __future__ import annotations

from benchmarks.machine import cpu_model, machine


def test_cpu_model_is_the_first_model_name(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text(
        "processor\t: 0\nmodel name\t: AMD EPYC 7B13\n\nprocessor\t: 1\nmodel name\t: AMD EPYC 7B13\n",
        encoding="utf-8",
    )
    assert cpu_model(info) == "AMD EPYC 7B13"


def test_machine_records_load_before_and_after():
    record = machine((1.0, 2.0, 3.0))
    assert record["load_average_before"] == (1.0, 2.0, 3.0)
    assert len(record["load_average_after"]) == 3 and record["cpus"] >= 1
    assert "cpu_model" in record
