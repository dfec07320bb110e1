"""Liveness for load balancers and `risk serve`: the only route besides login needing no token."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from serve.api.deps import SessionDep
from serve.api.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health)
def health(session: SessionDep) -> Health:
    """``ok`` when the database answers; says nothing else about the deployment."""
    session.execute(text("SELECT 1"))
    return Health(status="ok", database="ok")
