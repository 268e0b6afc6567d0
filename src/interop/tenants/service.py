"""Rendering and filtering tenants."""

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from interop.auth.principals import Principal
from interop.auth.secrets import SecretBox
from interop.clouds.schemas import Env
from interop.db import AnySelect
from interop.errors import InvalidRequest, NotFound
from interop.ingestions.models import PENDING_STATES, Ingestion
from interop.integrations.models import Integration
from interop.rollovers.models import Rollover
from interop.schedules.models import Schedule
from interop.tenants.models import Tenant
from interop.tenants.repository import readable_tenant_ids
from interop.tenants.schemas import (
    License,
    SyncStatus,
    TenantAccount,
    TenantAuth,
    TenantCloud,
    TenantInfo,
    TenantIntegration,
)
from interop.tenants.state_schemas import LastIngestion, TenantState


def filtered_tenant_ids(
    principal: Principal, accounts: list[str], integrations: list[str]
) -> AnySelect:
    """Ids of the readable tenants the filters keep, in list order: AND across filters, OR
    within one; each repeatable or comma-separated. Tenant columns only (see readable_by)."""
    statement = readable_tenant_ids(principal)
    account_ids = _parse_uuids(_split(accounts), "accounts")
    names = _split(integrations)
    if account_ids:
        statement = statement.where(Tenant.account_id.in_(account_ids))
    if names:
        named = select(Integration.id).where(Integration.name.in_(names))
        statement = statement.where(Tenant.integration_id.in_(named))
    return statement


def tenant_info(row: Any, box: SecretBox) -> TenantInfo:
    tenant, account, cloud, integration, version, actor = row
    return TenantInfo(
        id=tenant.id,
        name=tenant.name,
        account=TenantAccount(
            id=account.id,
            name=account.name,
            public_id=account.public_id,
            timezone=account.timezone,
            userdata=account.userdata,
        ),
        cloud=TenantCloud(
            id=cloud.id,
            name=cloud.name,
            generation=cloud.generation,
            env=Env(id=cloud.env_id, name=cloud.env_name),
        ),
        integration=TenantIntegration(id=integration.id, name=integration.name, version=version),
        license=License(
            valid_from=tenant.license_valid_from,
            valid_to=tenant.license_valid_to,
            status=tenant.license_status,
        ),
        status=SyncStatus(
            op_state=tenant.op_state,
            setup_state=tenant.setup_state,
            last_sync_at=tenant.last_sync_at,
        ),
        sis_status=SyncStatus(
            op_state=tenant.sis_op_state,
            setup_state=tenant.sis_setup_state,
            last_sync_at=tenant.sis_last_sync_at,
        ),
        auth=TenantAuth(
            type="oauth2_client_credentials",
            client_id=actor.client_id,
            client_secret=box.decrypt(actor.secret_encrypted),
            updated_at=actor.updated_at,
        ),
        created_at=tenant.created_at,
        updated_at=tenant.updated_at,
        version=tenant.version,
    )


def _split(values: list[str]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _parse_uuids(values: list[str], field: str) -> list[uuid.UUID]:
    try:
        return [uuid.UUID(value) for value in values]
    except ValueError as exc:
        raise InvalidRequest(
            f"{field} must be UUIDs", details=[{"field": field, "message": "not a UUID"}]
        ) from exc


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
    active_rollover = session.scalar(
        select(Rollover.id).where(Rollover.tenant_id == tenant_id, Rollover.status == "active")
    )
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
