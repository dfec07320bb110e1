"""Process-wide locks shared by the layers above `risk`.

`MIGRATIONS`: Alembic keeps its running context in module globals, so two migrations in one
process at once — the service's own (`serve.db.upgrade`) and MLflow opening a new store
(`models.tracking.client`) — corrupt each other ("KeyError: 'script'"). Both take this lock.
"""

from __future__ import annotations

import threading

MIGRATIONS = threading.RLock()

__all__ = ["MIGRATIONS"]
