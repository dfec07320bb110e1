"""models.threads: LightGBM's entry points run with one BLAS thread."""

from threadpoolctl import threadpool_info

import models.threads as threads
from models.backtest import run_backtest
from models.fitting import fit_at, fit_prepared, refresh_at
from models.search import search_config
from models.training import train_forecaster


def _blas_threads() -> list[int]:
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def test_the_limit_holds_inside_and_is_restored_after(monkeypatch):
    before = _blas_threads()
    seen = threads.one_blas_thread(_blas_threads)()
    assert seen and all(n == 1 for n in seen)
    assert _blas_threads() == before
    monkeypatch.setattr(threads, "BLAS_LIMIT", None)
    assert threads.one_blas_thread(_blas_threads)() == before


def test_every_training_entry_point_is_limited():
    limited = threads.one_blas_thread(_blas_threads).__code__
    for fn in (run_backtest, fit_at, fit_prepared, refresh_at, search_config, train_forecaster):
        assert fn.__code__ is limited, fn.__name__
        assert fn.__wrapped__.__name__ == fn.__name__
