"""Integration queries: the readable statement and the current-version rule."""

import uuid
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from interop.accounts.repository import visible_account_ids
from interop.auth.principals import Principal
from interop.db import AnySelect
from interop.errors import NotFound
from interop.integrations.models import Integration, IntegrationVersion


def readable_integrations(principal: Principal) -> AnySelect:
    """Integrations owned by the caller or its descendants; an operator sees all."""
    statement = select(Integration).order_by(Integration.created_at, Integration.id)
    if principal.is_operator:
        return statement
    return statement.where(Integration.account_id.in_(visible_account_ids(principal)))


def get_readable_integration(
    session: Session, principal: Principal, integration_id: uuid.UUID, lock: bool = False
) -> Integration:
    statement = readable_integrations(principal).where(Integration.id == integration_id)
    if lock:
        statement = statement.with_for_update()
    integration: Integration | None = session.scalar(statement)
    if integration is None:
        raise NotFound("integration")
    return integration


def versions_newest_first(integration_id: uuid.UUID) -> AnySelect:
    return (
        select(IntegrationVersion)
        .where(IntegrationVersion.integration_id == integration_id)
        .order_by(IntegrationVersion.created_at.desc(), IntegrationVersion.id.desc())
    )


def get_version(
    session: Session, integration_id: uuid.UUID, version: str, lock: bool = False
) -> IntegrationVersion:
    statement = select(IntegrationVersion).where(
        IntegrationVersion.integration_id == integration_id,
        IntegrationVersion.version == version,
    )
    if lock:
        statement = statement.with_for_update()
    found = session.scalar(statement)
    if found is None:
        raise NotFound("integration version")
    return found


def current_versions(
    session: Session, integration_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """Each integration's `version`: its newest released version, else its newest (one query)."""
    ids = list(integration_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(
            IntegrationVersion.integration_id,
            IntegrationVersion.version,
            IntegrationVersion.release_state,
        )
        .where(IntegrationVersion.integration_id.in_(ids))
        .order_by(IntegrationVersion.created_at, IntegrationVersion.id)
    ).all()
    newest: dict[uuid.UUID, str] = {}
    newest_released: dict[uuid.UUID, str] = {}
    for integration_id, version, release_state in rows:
        newest[integration_id] = version
        if release_state == "released":
            newest_released[integration_id] = version
    return {**newest, **newest_released}
