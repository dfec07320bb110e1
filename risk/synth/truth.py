"""The known truth of a synthetic city: everything the oracle needs, as written to truth.json."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from risk.errors import ContractError
from risk.synth.params import SynthParams

TRUTH_FORMAT = "risk-synth-truth/1"


@dataclass(frozen=True)
class Truth:
    """Generator parameters plus the per-city draws (background rates, shocks, neighbours).

    `background_per_day` is (G, K) in `grid_ids` × `params.categories` order; `daily_shock`
    the realised city-wide multiplier per simulated day (the oracle uses its mean, 1);
    `neighbour_pairs` the ring-1 adjacency as index pairs (i < j) into `grid_ids`.
    """

    params: SynthParams
    seed: int
    start: str
    tz: str
    days: int
    grid_ids: tuple[str, ...]
    background_per_day: np.ndarray
    daily_shock: np.ndarray
    neighbour_pairs: np.ndarray

    @property
    def categories(self) -> tuple[str, ...]:
        return self.params.categories

    def ring1(self) -> sp.csr_matrix:
        n = len(self.grid_ids)
        i, j = self.neighbour_pairs[:, 0], self.neighbour_pairs[:, 1]
        data = np.ones(2 * len(i))
        return sp.csr_matrix((data, (np.r_[i, j], np.r_[j, i])), shape=(n, n))

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": TRUTH_FORMAT,
            "seed": self.seed,
            "start": self.start,
            "tz": self.tz,
            "days": self.days,
            "categories": list(self.categories),
            "params": self.params.to_dict(),
            "grid_ids": list(self.grid_ids),
            "background_per_day": self.background_per_day.tolist(),
            "daily_shock": self.daily_shock.tolist(),
            "neighbour_pairs": self.neighbour_pairs.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "truth.json") -> Truth:
        if data.get("format") != TRUTH_FORMAT:
            raise ContractError(
                "not a synthetic-city truth file",
                file=source,
                field="format",
                value=data.get("format"),
                fix=f"pass the truth.json written by `risk synth` (format {TRUTH_FORMAT})",
            )
        pairs = np.asarray(data["neighbour_pairs"], dtype=np.int64).reshape(-1, 2)
        return cls(
            params=SynthParams.from_dict(data["params"]),
            seed=int(data["seed"]),
            start=str(data["start"]),
            tz=str(data["tz"]),
            days=int(data["days"]),
            grid_ids=tuple(data["grid_ids"]),
            background_per_day=np.asarray(data["background_per_day"], dtype=float),
            daily_shock=np.asarray(data["daily_shock"], dtype=float),
            neighbour_pairs=pairs,
        )


def truth_json(truth: Truth) -> str:
    return json.dumps(truth.to_dict(), ensure_ascii=False, separators=(",", ":")) + "\n"


def load_truth(path: str | Path) -> Truth:
    """Read truth.json; a missing or malformed file is a `ContractError` naming it."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ContractError(
            f"cannot read the truth file: {exc}",
            file=str(path),
            fix="pass the truth.json written by `risk synth`",
        ) from exc
    try:
        return Truth.from_dict(data, source=str(path))
    except (KeyError, TypeError, ValueError) as exc:
        raise ContractError(
            f"truth file is incomplete: {exc}",
            file=str(path),
            fix="regenerate it with `risk synth`",
        ) from exc
