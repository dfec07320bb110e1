"""Keys outside the database: environment first, then an owner-only file made once."""

from __future__ import annotations

import stat
import threading

import pytest

from risk.errors import ConfigError
from risk.keys import key_path, load_key


def test_a_key_file_is_created_once_owner_only_and_read_back(tmp_path, monkeypatch):
    monkeypatch.delenv("RISK_KEY_AUDIT", raising=False)
    first = load_key(tmp_path, "audit")
    path = key_path(tmp_path, "audit")
    assert len(first) == 32 and load_key(tmp_path, "audit") == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["audit.key"]  # no temporary left


def test_racing_creators_all_get_the_key_that_landed(tmp_path, monkeypatch):
    monkeypatch.delenv("RISK_KEY_NAMES", raising=False)
    got, start = [], threading.Barrier(8)

    def make():
        start.wait()
        got.append(load_key(tmp_path, "names"))

    threads = [threading.Thread(target=make) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 8 and len(set(got)) == 1
    assert bytes.fromhex(key_path(tmp_path, "names").read_text().strip()) == got[0]


def test_environment_wins_and_bad_keys_are_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("RISK_KEY_AUDIT", "ab" * 32)
    assert load_key(tmp_path, "audit") == bytes.fromhex("ab" * 32)
    assert not key_path(tmp_path, "audit").exists()
    monkeypatch.setenv("RISK_KEY_AUDIT", "not hex")
    with pytest.raises(ConfigError, match="64 hex characters"):
        load_key(tmp_path, "audit")
    monkeypatch.delenv("RISK_KEY_AUDIT")
    with pytest.raises(ConfigError, match="no audit key"):
        load_key(tmp_path, "audit", create=False)
    with pytest.raises(ValueError, match="unknown key purpose"):
        load_key(tmp_path, "other")
