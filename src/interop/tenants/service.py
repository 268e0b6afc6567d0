"""Rendering and filtering tenants."""

import uuid
from typing import Any

from interop.auth.principals import Principal
from interop.auth.secrets import SecretBox
from interop.clouds.schemas import Env
from interop.db import AnySelect
from interop.errors import InvalidRequest
from interop.integrations.models import Integration
from interop.tenants.models import Tenant
from interop.tenants.repository import readable_tenants
from interop.tenants.schemas import (
    License,
    SyncStatus,
    TenantAccount,
    TenantAuth,
    TenantCloud,
    TenantInfo,
    TenantIntegration,
)


def filtered_tenants(
    principal: Principal, accounts: list[str], integrations: list[str]
) -> AnySelect:
    """AND across filters, OR within one; each repeatable or comma-separated."""
    statement = readable_tenants(principal)
    account_ids = _parse_uuids(_split(accounts), "accounts")
    names = _split(integrations)
    if account_ids:
        statement = statement.where(Tenant.account_id.in_(account_ids))
    if names:
        statement = statement.where(Integration.name.in_(names))
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
