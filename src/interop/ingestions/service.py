"""Ingestions queued on demand (from a schedule's run or the operator's CLI), and pruning old
ones."""

import uuid
from datetime import datetime

from sqlalchemy import Select, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from interop.db import held_against_deletion, utcnow
from interop.errors import Conflict, NotFound
from interop.ingestions.models import PENDING_STATES, Ingestion
from interop.tenants.models import Tenant


def queue_collection(session: Session, tenant_id: uuid.UUID) -> Ingestion:
    """The operator's on-demand collection for a tenant (`interop ingestions run`); 404 when
    there is no such tenant, else as `queue_on_demand`."""
    tenant = held_against_deletion(select(Tenant.id).where(Tenant.id == tenant_id))
    if session.scalar(tenant) is None:
        raise NotFound("tenant")
    return queue_on_demand(session, tenant_id)


def queue_on_demand(
    session: Session, tenant_id: uuid.UUID, schedule_id: uuid.UUID | None = None
) -> Ingestion:
    """A `scheduled` on-demand collection of the tenant (run from its schedule, if one is
    given), or `409 ingestion_pending` naming the pending one: checked first, and again when
    the one-pending-per-tenant index refuses a racing twin. The caller holds the tenant (and
    the schedule) against deletion, for the new row refers to them."""
    _refuse_if_pending(session, tenant_id)
    ingestion = Ingestion(
        tenant_id=tenant_id,
        schedule_id=schedule_id,
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
        _refuse_if_pending(session, tenant_id)
        raise
    return ingestion


def _refuse_if_pending(session: Session, tenant_id: uuid.UUID) -> None:
    pending = session.scalar(
        select(Ingestion.id).where(
            Ingestion.tenant_id == tenant_id, Ingestion.state.in_(PENDING_STATES)
        )
    )
    if pending is not None:
        raise Conflict(
            "ingestion_pending",
            f"the tenant already has a pending ingestion ({pending})",
            details={"ingestion_id": str(pending)},
        )


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
