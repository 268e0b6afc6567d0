"""Ingestion queries: an actor reads its tenant's, an account those of visible tenants."""

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from interop.auth.principals import Principal
from interop.db import AnySelect
from interop.errors import NotFound
from interop.ingestions.models import Ingestion
from interop.tenants.repository import own_tenant_id, readable_tenant_ids


def readable_ingestions(principal: Principal, tenant_ids: Sequence[uuid.UUID] = ()) -> AnySelect:
    """Newest first, optionally only of the tenants listed."""
    statement = select(Ingestion).order_by(Ingestion.requested_at.desc(), Ingestion.id.desc())
    if principal.kind == "actor":
        statement = statement.where(Ingestion.tenant_id == own_tenant_id(principal))
    elif not principal.is_operator:
        visible = readable_tenant_ids(principal).order_by(None)
        statement = statement.where(Ingestion.tenant_id.in_(visible))
    if tenant_ids:
        statement = statement.where(Ingestion.tenant_id.in_(tenant_ids))
    return statement


def get_readable_ingestion(
    session: Session, principal: Principal, ingestion_id: uuid.UUID
) -> Ingestion:
    ingestion: Ingestion | None = session.scalar(
        readable_ingestions(principal).where(Ingestion.id == ingestion_id)
    )
    if ingestion is None:
        raise NotFound("ingestion")
    return ingestion
