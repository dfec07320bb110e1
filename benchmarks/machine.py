"""What every benchmark JSON records about the machine it ran on."""

from __future__ import annotations

import os
import platform


def machine(load_before: tuple[float, float, float]) -> dict:
    """Cores, Python, and the load average (1, 5, 15 min) before the run and now, after it."""
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
    }
