"""The live fixture itself: the seeded service answers, authenticated, on each backend."""

from __future__ import annotations

import httpx


def test_live_service_answers_only_with_a_token(live):
    anonymous = httpx.get(f"{live.url}/api/v1/review/items", timeout=10)
    assert anonymous.status_code == 401
    queue = httpx.get(f"{live.url}/api/v1/review/items", headers=live.auth("rev"), timeout=10)
    assert queue.status_code == 200
