"""Rendering and filtering tenants."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from interop.auth.principals import Principal
from interop.auth.secrets import SecretBox
from interop.db import AnySelect, utcnow
from interop.errors import NotFound
from interop.ingestions.models import PENDING_STATES, Ingestion
from interop.integrations.models import Integration
from interop.rollovers.repository import rollover_in_effect
from interop.schedules.models import Schedule
from interop.schemas import split_filter, uuid_filter
from interop.tenants.models import Tenant
from interop.tenants.repository import TENANT_INFO_FIELDS, readable_tenant_ids
from interop.tenants.schemas import TenantInfo
from interop.tenants.state_schemas import LastIngestion, TenantState


def filtered_tenant_ids(
    principal: Principal, accounts: list[str], integrations: list[str]
) -> AnySelect:
    """Ids of the readable tenants the filters keep, in list order: AND across filters, OR
    within one; each repeatable or comma-separated. Tenant columns only (see readable_by)."""
    statement = readable_tenant_ids(principal)
    account_ids = uuid_filter(accounts, "accounts")
    names = split_filter(integrations)
    if account_ids:
        statement = statement.where(Tenant.account_id.in_(account_ids))
    if names:
        named = select(Integration.id).where(Integration.name.in_(names))
        statement = statement.where(Tenant.integration_id.in_(named))
    return statement


def tenant_info(row: Sequence[Any], box: SecretBox) -> TenantInfo:
    """A `tenant_info_rows` row as a TenantInfo: each value nested at its TENANT_INFO_FIELDS
    path, then validated once as a whole (nine nested model constructors, each validating
    its own part, cost more)."""
    document: dict[str, Any] = {"auth": {"type": "oauth2_client_credentials"}}
    for (path, _), value in zip(TENANT_INFO_FIELDS, row, strict=True):
        place = document
        for key in path[:-1]:
            place = place.setdefault(key, {})
        place[path[-1]] = value
    auth = document["auth"]
    auth["client_secret"] = box.decrypt(auth["client_secret"])
    terms = document["license"]
    terms["status"] = license_status(terms["status"], terms["valid_to"], utcnow())
    return TenantInfo.model_validate(document)


def license_status(stored: str, valid_to: datetime | None, now: datetime) -> str:
    """The license's status as of `now`. Expiry is read, not written: no job has to pass at
    `valid_to` (nor can one be late), and a page of tenants needs no query more. The license
    holds up to `valid_to`, not at it. A suspension stands whatever the dates say."""
    if stored == "active" and valid_to is not None and valid_to <= now:
        return "expired"
    return stored


def tenant_state(session: Session, tenant_id: uuid.UUID) -> TenantState:
    """Where the tenant's sync stands. `paused`: it has collection schedules, none enabled."""
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound("tenant")
    enabled = (
        session.execute(
            select(Schedule.enabled).where(
                Schedule.tenant_id == tenant_id, Schedule.type == "collection"
            )
        )
        .scalars()
        .all()
    )
    pending = session.scalar(
        select(Ingestion.id).where(
            Ingestion.tenant_id == tenant_id, Ingestion.state.in_(PENDING_STATES)
        )
    )
    last = session.scalar(
        select(Ingestion)
        .where(Ingestion.tenant_id == tenant_id)
        .order_by(Ingestion.requested_at.desc(), Ingestion.id.desc())
        .limit(1)
    )
    # The rollover the engine applies now, as the worker decides it (not merely the one whose
    # status reads `active`).
    active_rollover = rollover_in_effect(session, tenant_id, utcnow())
    return TenantState(
        tenant_id=tenant.id,
        op_state=tenant.op_state,
        setup_state=tenant.setup_state,
        paused=bool(enabled) and not any(enabled),
        pending_ingestion_id=pending,
        last_ingestion=LastIngestion(id=last.id, state=last.state, completed_at=last.completed_at)
        if last
        else None,
        active_rollover_id=active_rollover,
        last_sync_at=tenant.last_sync_at,
    )
