"""The tenant application's auth workflow.

An account opens a session (pending state `updating`); the integration's driver then reports
the outcome with PATCH: `confirmed` moves into `auth_state` and ends the session, `error`
ends it and leaves the previous `auth_state` as it was.
"""

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from interop.application.models import TenantApplication
from interop.application.schemas import TenantApplication as TenantApplicationOut
from interop.application.schemas import TenantApplicationUpdate
from interop.auth.principals import Principal
from interop.concurrency import check_if_match
from interop.db import utcnow
from interop.errors import Conflict, NotFound
from interop.integrations.models import IntegrationVersion
from interop.tenants.models import Tenant
from interop.tenants.repository import get_readable_tenant, own_tenant_id

WRITABLE = ("auth_message", "auth_state_pending", "auth_attributes_pending")


def new_application(tenant: Tenant, version: IntegrationVersion) -> TenantApplication:
    """A tenant's application as its blueprint declares it, before any auth session."""
    return TenantApplication(
        tenant_id=tenant.id,
        account_id=tenant.account_id,
        deliver_tasks=version.deliver_tasks,
        validate_tasks=version.validate_tasks,
        auth_type=version.auth_type,
    )


def get_application(
    session: Session, tenant_id: uuid.UUID, lock: bool = False
) -> TenantApplication:
    statement = select(TenantApplication).where(TenantApplication.tenant_id == tenant_id)
    application: TenantApplication | None = session.scalar(
        statement.with_for_update() if lock else statement
    )
    if application is None:
        raise NotFound("tenant application")
    return application


def own_application(session: Session, principal: Principal) -> TenantApplication:
    return get_application(session, own_tenant_id(principal))


def update_application(
    session: Session, principal: Principal, body: TenantApplicationUpdate, if_match: str | None
) -> int:
    application = get_application(session, own_tenant_id(principal), lock=True)
    check_if_match(if_match, application.version)
    body.reject_changed_read_only(TenantApplicationOut.of(application))
    if application.auth_state_pending != "updating":
        raise Conflict(
            "auth_not_updating",
            f"no auth session is open (auth_state_pending is {application.auth_state_pending})",
        )
    given = body.model_fields_set & set(WRITABLE)
    if "auth_message" in given:
        application.auth_message = body.auth_message
    if "auth_attributes_pending" in given:
        application.auth_attributes_pending = body.auth_attributes_pending
    if body.auth_state_pending is not None:
        _finish_session(application, body.auth_state_pending)
    application.version += 1
    application.updated_at = utcnow()
    return application.version


def open_auth_session(
    session: Session, principal: Principal, tenant_id: uuid.UUID
) -> TenantApplication:
    """(ext) An account that sees the tenant starts an auth session for its application."""
    tenant = get_readable_tenant(session, principal, tenant_id)
    application = get_application(session, tenant.id, lock=True)
    application.auth_state_pending = "updating"
    application.auth_session_id_pending = uuid.uuid4()
    application.auth_message = None
    application.auth_attributes_pending = None
    application.version += 1
    application.updated_at = utcnow()
    session.flush()
    return application


def _finish_session(application: TenantApplication, outcome: str) -> None:
    if outcome == "confirmed":
        application.auth_state = "confirmed"
        application.auth_state_pending = "none"
    else:
        application.auth_state_pending = "error"
    application.auth_session_id_pending = None
