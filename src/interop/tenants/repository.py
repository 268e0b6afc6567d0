"""Tenant queries. A tenant is readable by the accounts above its cloud's account and by the
accounts above its integration's owner ("your licensed and authorized Integration tenants")."""

import uuid
from typing import Any

from sqlalchemy import ColumnElement, or_, select, true
from sqlalchemy.orm import Bundle, Session

from interop.accounts.models import Account
from interop.accounts.repository import visible_account_ids
from interop.actors.models import Actor
from interop.auth.principals import Principal
from interop.clouds.models import Cloud
from interop.db import AnySelect
from interop.errors import NotFound
from interop.integrations.models import Integration, IntegrationVersion
from interop.tenants.models import Tenant

TENANT_ORDER = (Tenant.created_at, Tenant.id)


def tenant_info_rows() -> AnySelect:
    """The columns a TenantInfo shows, in one query, as plain rows.

    Each table's columns come as a Bundle named after it (row.tenant.name, row.actor.client_id)
    rather than as ORM entities: a page of 100 tenants otherwise built 300 tracked instances,
    and the list took 12-25 % more CPU."""
    statement: AnySelect = (
        select(
            Bundle(
                "tenant",
                Tenant.id,
                Tenant.name,
                Tenant.license_valid_from,
                Tenant.license_valid_to,
                Tenant.license_status,
                Tenant.op_state,
                Tenant.setup_state,
                Tenant.last_sync_at,
                Tenant.sis_op_state,
                Tenant.sis_setup_state,
                Tenant.sis_last_sync_at,
                Tenant.created_at,
                Tenant.updated_at,
                Tenant.version,
            ),
            Bundle(
                "account",
                Account.id,
                Account.name,
                Account.public_id,
                Account.timezone,
                Account.userdata,
            ),
            Bundle("cloud", Cloud.id, Cloud.name, Cloud.generation, Cloud.env_id, Cloud.env_name),
            Bundle("integration", Integration.id, Integration.name),
            IntegrationVersion.version,
            Bundle("actor", Actor.client_id, Actor.secret_encrypted, Actor.updated_at),
        )
        .join(Account, Account.id == Tenant.account_id)
        .join(Cloud, Cloud.id == Tenant.cloud_id)
        .join(Integration, Integration.id == Tenant.integration_id)
        .join(IntegrationVersion, IntegrationVersion.id == Tenant.integration_version_id)
        .join(Actor, Actor.id == Tenant.actor_id)
        .order_by(*TENANT_ORDER)
    )
    return statement


def readable_by(principal: Principal) -> ColumnElement[bool]:
    """Which tenants the principal may read, tested on the tenant's own columns only.

    Tests on the tenant's columns let PostgreSQL walk the tenants in page order and filter as
    it goes, and let a page's keys be found without joining anything (the cost of page 99
    against page 0 of a developer's 10,000 tenants is in BENCHMARKS.md)."""
    if principal.kind == "actor":
        return Tenant.id == principal.tenant_id
    if principal.is_operator:
        return true()
    visible = visible_account_ids(principal)
    owned_integrations = select(Integration.id).where(Integration.account_id.in_(visible))
    return or_(Tenant.account_id.in_(visible), Tenant.integration_id.in_(owned_integrations))


def readable_tenants(principal: Principal) -> AnySelect:
    """Full TenantInfo rows of the tenants the principal may read."""
    return tenant_info_rows().where(readable_by(principal))


def readable_tenant_ids(principal: Principal) -> AnySelect:
    """Ids of the tenants the principal may read, in list order, from the tenants table alone."""
    statement: AnySelect = select(Tenant.id).where(readable_by(principal)).order_by(*TENANT_ORDER)
    return statement


def get_tenant_info_row(session: Session, principal: Principal, tenant_id: uuid.UUID) -> Any:
    row = session.execute(readable_tenants(principal).where(Tenant.id == tenant_id)).first()
    if row is None:
        raise NotFound("tenant")
    return row


def get_readable_tenant(session: Session, principal: Principal, tenant_id: uuid.UUID) -> Tenant:
    tenant = session.scalar(select(Tenant).where(Tenant.id == tenant_id, readable_by(principal)))
    if tenant is None:
        raise NotFound("tenant")
    return tenant


def own_tenant_id(principal: Principal) -> uuid.UUID:
    """The tenant an actor principal acts for; a connector actor has none (404)."""
    if principal.tenant_id is None:
        raise NotFound("tenant (this actor is not an integration)")
    return principal.tenant_id


def lock_tenant(session: Session, tenant_id: uuid.UUID) -> Tenant:
    """Serialize writers of one tenant's rules (overlap checks) until the transaction ends.

    PostgreSQL: a row lock on the tenant. SQLite: the write transaction already holds the
    database's write lock (BEGIN IMMEDIATE), so the FOR UPDATE is simply omitted there.
    """
    tenant = session.scalar(select(Tenant).where(Tenant.id == tenant_id).with_for_update())
    if tenant is None:
        raise NotFound("tenant")
    return tenant
