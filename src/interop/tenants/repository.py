"""Tenant queries. A tenant is readable by the accounts above its cloud's account and by the
accounts above its integration's owner ("your licensed and authorized Integration tenants")."""

import uuid
from typing import Any

from sqlalchemy import ColumnElement, Row, String, Uuid, or_, select, true, type_coerce
from sqlalchemy.orm import InstrumentedAttribute, Session

from interop.accounts.models import Account
from interop.accounts.repository import visible_account_ids
from interop.actors.models import Actor
from interop.auth.principals import Principal
from interop.clouds.models import Cloud
from interop.db import AnySelect, column_rows, held_against_deletion
from interop.errors import NotFound
from interop.integrations.models import Integration, IntegrationVersion
from interop.paging import by_page_keys
from interop.tenants.models import Tenant

TENANT_ORDER = (Tenant.created_at, Tenant.id)


# Where each value of a TenantInfo comes from, by its path in the JSON: the select below takes
# these columns in this order and `service.tenant_info` nests a row by the same paths, so the
# two cannot disagree. (The actor's secret is stored encrypted; the service decrypts it.)
TENANT_INFO_FIELDS: tuple[tuple[tuple[str, ...], InstrumentedAttribute[Any]], ...] = (
    (("id",), Tenant.id),
    (("name",), Tenant.name),
    (("account", "id"), Account.id),
    (("account", "name"), Account.name),
    (("account", "public_id"), Account.public_id),
    (("account", "timezone"), Account.timezone),
    (("account", "userdata"), Account.userdata),
    (("cloud", "id"), Cloud.id),
    (("cloud", "name"), Cloud.name),
    (("cloud", "generation"), Cloud.generation),
    (("cloud", "env", "id"), Cloud.env_id),
    (("cloud", "env", "name"), Cloud.env_name),
    (("integration", "id"), Integration.id),
    (("integration", "name"), Integration.name),
    (("integration", "version"), IntegrationVersion.version),
    (("license", "valid_from"), Tenant.license_valid_from),
    (("license", "valid_to"), Tenant.license_valid_to),
    (("license", "status"), Tenant.license_status),
    (("status", "op_state"), Tenant.op_state),
    (("status", "setup_state"), Tenant.setup_state),
    (("status", "last_sync_at"), Tenant.last_sync_at),
    (("sis_status", "op_state"), Tenant.sis_op_state),
    (("sis_status", "setup_state"), Tenant.sis_setup_state),
    (("sis_status", "last_sync_at"), Tenant.sis_last_sync_at),
    (("auth", "client_id"), Actor.client_id),
    (("auth", "client_secret"), Actor.secret_encrypted),
    (("auth", "updated_at"), Actor.updated_at),
    (("created_at",), Tenant.created_at),
    (("updated_at",), Tenant.updated_at),
    (("version",), Tenant.version),
)


def tenant_info_rows() -> AnySelect:
    """The columns of TENANT_INFO_FIELDS, in one query, as plain column rows (read them with
    `db.column_rows`).

    ORM entities for a page of 100 tenants built 300 tracked instances (12-25 % more CPU than
    column bundles); bundles and the ORM's result layer then cost as much as all the rest of
    the page (py-spy: 57 % of a page's samples went to reading the rows and building the
    models from them)."""
    statement: AnySelect = (
        select(*(_as_stored(column) for _, column in TENANT_INFO_FIELDS))
        .join(Account, Account.id == Tenant.account_id)
        .join(Cloud, Cloud.id == Tenant.cloud_id)
        .join(Integration, Integration.id == Tenant.integration_id)
        .join(IntegrationVersion, IntegrationVersion.id == Tenant.integration_version_id)
        .join(Actor, Actor.id == Tenant.actor_id)
        .order_by(*TENANT_ORDER)
    )
    return statement


def _as_stored(column: InstrumentedAttribute[Any]) -> Any:
    """A UUID column's value as the driver returns it (hex text on SQLite), for TenantInfo
    to parse: SQLAlchemy's UUID processing built six Python UUIDs a tenant, 600 a page, and
    pydantic checks the field anyway. The SQL is the same; only the result processing goes
    (page 0 of 300 tenants in-process on SQLite: 4.5-4.9 -> 4.1-4.3 ms)."""
    if isinstance(column.type, Uuid):
        return type_coerce(column, String)
    return column


# A page of TenantInfo rows by their keys (`paging.paginate_by_key`), built once.
TENANT_INFO_PAGE = by_page_keys(tenant_info_rows(), Tenant.id)


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


def get_tenant_info_row(session: Session, principal: Principal, tenant_id: uuid.UUID) -> Row[Any]:
    rows = column_rows(session, readable_tenants(principal).where(Tenant.id == tenant_id))
    if not rows:
        raise NotFound("tenant")
    row: Row[Any] = rows[0]
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

    The tenant's cloud, then its actor, are held against deletion first: a cloud's delete
    and an uninstall lock those, then reach the tenant through the cascade, so a writer
    that locked the tenant first and then referred to them (a rollover's cloud_id and
    actor_id) deadlocked with it. Taken in the deleters' order, it waits for such a delete
    and finds no tenant (404), or holds the delete off until it ends.
    """
    for parent, key in ((Cloud, Tenant.cloud_id), (Actor, Tenant.actor_id)):
        # The tenant is read in a sub-select, which the lock leaves alone.
        of_tenant = select(key).where(Tenant.id == tenant_id).scalar_subquery()
        session.execute(held_against_deletion(select(parent.id).where(parent.id == of_tenant)))
    tenant = session.scalar(select(Tenant).where(Tenant.id == tenant_id).with_for_update())
    if tenant is None:
        raise NotFound("tenant")
    return tenant
