"""Ingestions from the operator's CLI: queueing one outside a schedule, pruning old ones."""

import uuid
from datetime import datetime

from sqlalchemy import Select, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from interop.db import utcnow
from interop.errors import Conflict, NotFound
from interop.ingestions.models import PENDING_STATES, Ingestion
from interop.tenants.models import Tenant


def queue_collection(session: Session, tenant_id: uuid.UUID) -> Ingestion:
    """A `scheduled` on-demand collection for the tenant; 409 while one is pending."""
    if session.get(Tenant, tenant_id) is None:
        raise NotFound("tenant")
    ingestion = Ingestion(
        tenant_id=tenant_id,
        type="collection",
        state="scheduled",
        trigger="on_demand",
        topics=[],
        requested_at=utcnow(),
    )
    try:
        with session.begin_nested():
            session.add(ingestion)
            session.flush()
    except IntegrityError:
        pending = session.scalar(
            select(Ingestion.id).where(
                Ingestion.tenant_id == tenant_id, Ingestion.state.in_(PENDING_STATES)
            )
        )
        raise Conflict(
            "ingestion_pending",
            f"the tenant already has a pending ingestion ({pending})",
            details={"ingestion_id": str(pending)},
        ) from None
    return ingestion


# Ids deleted per transaction: each batch's locks end with it, so a prune of millions of
# rows never holds the table against the workers for long.
PRUNE_BATCH = 5_000


def prunable_ingestions(before: datetime, keep: int) -> Select[tuple[uuid.UUID]]:
    """Ended ingestions completed before `before`, but each tenant's `keep` latest ended ones:
    the latest is what `GET /tenant/state` shows as `last_ingestion`, and what the engine reads
    to tell an unchanged export (which it then does not collect again)."""
    ended = select(
        Ingestion.id,
        Ingestion.completed_at,
        func.row_number()
        .over(
            partition_by=Ingestion.tenant_id,
            order_by=(Ingestion.completed_at.desc(), Ingestion.id.desc()),
        )
        .label("recency"),
    ).where(Ingestion.state.not_in(PENDING_STATES), Ingestion.completed_at.is_not(None))
    ranked = ended.subquery()
    return select(ranked.c.id).where(ranked.c.completed_at < before, ranked.c.recency > keep)


def prune_batch(session: Session, before: datetime, keep: int) -> int:
    """Delete up to PRUNE_BATCH prunable ingestions; how many were deleted."""
    ids = list(session.scalars(prunable_ingestions(before, keep).limit(PRUNE_BATCH)))
    if ids:
        session.execute(delete(Ingestion).where(Ingestion.id.in_(ids)))
    return len(ids)
