"""Plain JSON values for JSON columns, and the canonical JSON text the audit chain hashes.

Canonical means one text per value on every database: keys sorted, no spaces, UTF-8, times in
UTC ISO 8601 with microseconds, NaN refused upstream (turned into null).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any

import numpy as np
import pandas as pd


def utc_iso(value: datetime) -> str:
    """``2024-05-01T00:00:00.000000+00:00`` for any aware datetime."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: attach a time zone first")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def plain(obj: Any) -> Any:
    """A copy of ``obj`` made of dict/list/str/int/float/bool/None only."""
    if isinstance(obj, Mapping):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset | np.ndarray):
        seq = obj.tolist() if isinstance(obj, np.ndarray) else obj
        if isinstance(obj, set | frozenset):
            seq = sorted(seq, key=str)
        return [plain(v) for v in seq]
    if isinstance(obj, Enum):
        return plain(obj.value)
    if obj is None or obj is pd.NaT or obj is pd.NA:
        return None
    if isinstance(obj, datetime):
        return utc_iso(obj)
    if isinstance(obj, date):
        return obj.isoformat()
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def canonical_json(obj: Any) -> str:
    return json.dumps(
        plain(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
