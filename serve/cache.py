"""A small in-process cache of rendered JSON pages, valid while the data has not changed.

Every change to warnings or forecasts is audited, and each audit append advances
``audit_head.last_seq`` in the same transaction (`serve.repo.audit.generation`). An entry keeps
the generation it was rendered at and an expiry time; it is served only while the generation
is the same and the clock is before the expiry. Reading the generation is one primary-key
lookup, far cheaper than rendering a page, and it is exact across processes: a decision taken
through another worker process changes the generation every process reads.

The expiry covers what changes with time alone (an approved warning whose window ends leaves
the commander's list): callers pass the earliest such moment, capped at ``ttl``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta

DEFAULT_TTL = timedelta(seconds=30)
DEFAULT_SIZE = 512


@dataclass(frozen=True)
class Entry:
    generation: int
    expires: datetime
    body: bytes


class PageCache:
    """Thread-safe LRU of ``key → Entry``; ``get`` answers only for a live, current entry."""

    def __init__(self, size: int = DEFAULT_SIZE, ttl: timedelta = DEFAULT_TTL) -> None:
        if size < 1:
            raise ValueError(f"cache size must be at least 1 (got {size})")
        self.size = size
        self.ttl = ttl
        self._entries: OrderedDict[Hashable, Entry] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, generation: int, now: datetime) -> bytes | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry.generation != generation or now >= entry.expires:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry.body

    def put(
        self,
        key: Hashable,
        generation: int,
        now: datetime,
        body: bytes,
        until: datetime | None = None,
    ) -> None:
        """Keep ``body`` until ``min(now + ttl, until)`` or the next change of generation."""
        expires = now + self.ttl if until is None else min(now + self.ttl, until)
        with self._lock:
            self._entries[key] = Entry(generation, expires, body)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


__all__ = ["DEFAULT_TTL", "PageCache"]
