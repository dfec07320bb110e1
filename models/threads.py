"""One BLAS thread while LightGBM trains (docs/adr/012-training-cost.md).

LightGBM grows its trees on OpenMP threads, one per core. Between the rounds the fit does
small matrix work of its own — the Poisson blend's L-BFGS steps, the calibrators, the classic
components — and NumPy hands each product to OpenBLAS, which starts threads of its own on the
same cores. Those products are too thin to share (a (50,000 × 15) matrix-vector per step),
and OpenBLAS's threads spin-wait against LightGBM's and the baselines' thread. Measured on
Chicago in ADR 012: the blend's loss took twenty times as long with OpenBLAS's default
threads, and a three-block backtest gave the same metrics to the last digit with one.

    @one_blas_thread
    def fit_something(...): ...
"""

from __future__ import annotations

from threadpoolctl import threadpool_limits

one_blas_thread = threadpool_limits.wrap(limits=1, user_api="blas")
