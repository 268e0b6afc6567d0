"""Queueing ingestions outside a schedule (the operator's CLI)."""

import uuid

from sqlalchemy import select
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
