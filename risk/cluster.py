"""One switch to a Dask cluster (issue 18; docs/adr/021-dask-cluster-switch.md).

`--dask SCHEDULER` on `risk features`, `backtest`, `train` and `score`, `RISK_DASK_SCHEDULER`
for them and for the service's daily scoring:

* unset (the default): one process, as always — Dask is never imported;
* ``local``: a `distributed.LocalCluster` sized to this machine — one worker *process* per
  core with one thread each (LightGBM, numpy and the feature builders each want a whole core;
  processes keep their memory apart and a worker that dies takes only its partition with it),
  each allowed an equal share of the machine's memory;
* an address (``tcp://host:8786``, ``host:8786``, ``tls://…``): the user's existing cluster,
  which we only connect to — never start, never stop.

This module only opens and closes the client; what runs per partition is in
`features.partition`. The client's ``dashboard_link`` is printed through ``echo``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from risk.errors import ConfigError

LOCAL = "local"
ENV = "RISK_DASK_SCHEDULER"
INSTALL_HINT = "pip install 'grid-risk[dask]' (dask[dataframe] and distributed)"
_ADDRESS = re.compile(r"^(?:(?:tcp|tls|ucx|inproc|ws|wss)://)?[\w.\-\[\]:]+:\d{1,5}$")


def check_scheduler(value: str | None) -> str | None:
    """``None`` (single process), ``"local"`` or a scheduler address; anything else is a
    `ConfigError` saying what is accepted. Blank means unset."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.lower() == LOCAL:
        return LOCAL
    if _ADDRESS.match(value):
        return value
    raise ConfigError(
        f"--dask / {ENV} takes 'local' or a scheduler address such as tcp://10.0.0.5:8786, "
        f"got {value!r}"
    )


def scheduler_from_env(value: str | None = None) -> str | None:
    """The given value, else `RISK_DASK_SCHEDULER`, checked (`check_scheduler`)."""
    return check_scheduler(value if value is not None else os.environ.get(ENV))


def local_sizing(cpus: int | None = None, memory_bytes: int | None = None) -> dict[str, int]:
    """Workers, threads per worker and memory limit per worker of ``--dask local``: one
    single-threaded worker per core, the machine's memory shared equally."""
    import psutil

    cpus = cpus or os.cpu_count() or 1
    memory_bytes = memory_bytes or psutil.virtual_memory().total
    return {"n_workers": cpus, "threads_per_worker": 1, "memory_limit": memory_bytes // cpus}


def _require_distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:  # the `dask` extra is optional
        raise ConfigError(
            f"--dask needs Dask's distributed scheduler, which is not installed; {INSTALL_HINT}"
        ) from exc
    return distributed


@contextmanager
def dask_client(
    scheduler: str | None,
    *,
    n_workers: int | None = None,
    memory_limit: int | str | None = None,
    dashboard_address: str | None = ":8787",
    echo: Callable[[str], None] | None = None,
) -> Iterator[Any]:
    """A `distributed.Client` for ``scheduler`` (`check_scheduler`), or ``None`` without one.

    ``local`` starts a LocalCluster (`local_sizing`, ``n_workers`` / ``memory_limit`` to
    override) and shuts it down on exit; an address connects to that cluster and only closes
    the connection. ``echo`` receives one line naming the cluster and its dashboard link."""
    scheduler = check_scheduler(scheduler)
    if scheduler is None:
        yield None
        return
    distributed = _require_distributed()
    if scheduler == LOCAL:
        sizing = local_sizing()
        if n_workers is not None:
            sizing["memory_limit"] = sizing["memory_limit"] * sizing["n_workers"] // n_workers
            sizing["n_workers"] = n_workers
        if memory_limit is not None:
            sizing["memory_limit"] = memory_limit
        cluster = distributed.LocalCluster(
            processes=True, dashboard_address=dashboard_address, **sizing
        )
        try:
            with distributed.Client(cluster) as client:
                _announce(client, f"local Dask cluster of {sizing['n_workers']} workers", echo)
                yield client
        finally:
            cluster.close()
        return
    try:
        client = distributed.Client(scheduler, timeout="30s")
    except OSError as exc:
        raise ConfigError(
            f"cannot reach the Dask scheduler at {scheduler} ({exc}); start it "
            "(`dask scheduler`) or give another address, or leave --dask out to run here"
        ) from exc
    with client:
        _announce(client, f"Dask cluster {scheduler} ({worker_count(client)} workers)", echo)
        yield client


def _announce(client: Any, what: str, echo: Callable[[str], None] | None) -> None:
    if echo is not None:
        served = "dashboard" in client.scheduler_info().get("services", {})
        link = client.dashboard_link if served else "none (the scheduler serves no dashboard)"
        echo(f"{what}; dashboard: {link}")


def worker_count(client: Any) -> int:
    """The workers the client's scheduler has now (at least 1)."""
    return max(1, len(client.nthreads()))
