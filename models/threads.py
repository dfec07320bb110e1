"""One BLAS thread while LightGBM trains (docs/adr/012-training-cost.md).

LightGBM grows its trees on OpenMP threads, one per core. Between the rounds the fit does
small matrix work of its own — the Poisson blend's L-BFGS steps, the calibrators, the classic
components — and NumPy hands each product to OpenBLAS, which starts threads of its own on the
same cores. Those products are too thin to share (a matrix-vector product over the blend's
rows and its dozen columns per step), and OpenBLAS's threads spin-wait against LightGBM's
and the baselines' thread (`python -m benchmarks.blas_threads` measures both ways on
Chicago).

    @one_blas_thread
    def fit_something(...): ...
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from threadpoolctl import threadpool_limits

P = ParamSpec("P")
R = TypeVar("R")

# BLAS threads inside the wrapped functions; None leaves OpenBLAS's own choice (one per core).
BLAS_LIMIT: int | None = 1


def one_blas_thread(fn: Callable[P, R]) -> Callable[P, R]:
    """`fn` run with at most `BLAS_LIMIT` BLAS threads (read at each call); the previous
    limit is restored after."""

    @functools.wraps(fn)
    def limited(*args: P.args, **kwargs: P.kwargs) -> R:
        with threadpool_limits(limits=BLAS_LIMIT, user_api="blas"):
            return fn(*args, **kwargs)

    return limited
