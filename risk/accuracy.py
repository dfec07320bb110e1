"""Live accuracy of warnings: once a window has closed, did it come true? (issue 15, item 2)

The backtest promises a precision per level (the operating points chosen at training time);
this measures what the issued warnings delivered. A warning counts under the level the model
gave it (``original_level``) — a reviewer's adjustment or decision does not change what the
model promised — and comes true when at least one event of its target (any category for
``any``) occurred in its window.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from risk.levels import LEVELS
from risk.review import ReviewItem


@dataclass(frozen=True)
class LevelAccuracy:
    model_version: str
    level: str
    n: int  # warnings whose window closed
    came_true: int

    @property
    def precision(self) -> float | None:
        return self.came_true / self.n if self.n else None


def closed_windows(
    items: Iterable[ReviewItem], now: datetime, days: int, known_until: datetime
) -> list[ReviewItem]:
    """Items whose window closed in the last ``days`` days and before the events known end."""
    since = now - timedelta(days=days)
    return [i for i in items if since < i.window_end <= now and i.window_end <= known_until]


def accuracy_by_level(
    items: Sequence[ReviewItem], came_true: Sequence[bool]
) -> list[LevelAccuracy]:
    """Per model version and model level (most severe first): warnings and how many came true."""
    if len(items) != len(came_true):
        raise ValueError(f"{len(items)} items but {len(came_true)} outcomes")
    counts: dict[tuple[str, str], list[int]] = {}
    for item, hit in zip(items, came_true, strict=True):
        n_hit = counts.setdefault((item.model_version, item.original_level), [0, 0])
        n_hit[0] += 1
        n_hit[1] += bool(hit)
    rank = {name: i for i, name in enumerate(LEVELS)}
    ordered = sorted(counts, key=lambda k: (k[0], -rank.get(k[1], -1)))
    return [LevelAccuracy(v, lvl, *counts[(v, lvl)]) for v, lvl in ordered]
