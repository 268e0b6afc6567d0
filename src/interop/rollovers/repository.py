"""Rollover queries: which rollover of a tenant is in effect at a given time.

The tenant state (`active_rollover_id`) and the worker (suspension, retained deletes) both ask
through `in_effect`, so what the state says and what the engine does cannot disagree.
"""

import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from interop.rollovers.models import Rollover


def in_effect(now: datetime) -> ColumnElement[bool]:
    """Status governs, the dates tell when the engine moves it: an `active` rollover applies
    until its end_date even if its start_date is later (the client activated it early); a
    `scheduled` one applies from its start_date (the engine makes it active on its next pass,
    and it applies meanwhile). Past end_date neither applies (the engine completes it)."""
    return and_(
        Rollover.end_date > now,
        or_(
            Rollover.status == "active",
            and_(Rollover.status == "scheduled", Rollover.start_date <= now),
        ),
    )


def rollover_in_effect(
    session: Session, tenant_id: uuid.UUID, now: datetime, kind: str | None = None
) -> uuid.UUID | None:
    """The tenant's rollover in effect at `now` (of `kind`, when given), or None."""
    statement = select(Rollover.id).where(Rollover.tenant_id == tenant_id, in_effect(now))
    if kind is not None:
        statement = statement.where(Rollover.type == kind)
    # Live rollovers do not overlap, so there is one at most; the order only makes it certain.
    return session.scalar(statement.order_by(Rollover.start_date, Rollover.id).limit(1))
