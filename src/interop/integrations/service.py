"""Integration rules: unique names, versions read from blueprints, no deletion while in use."""

import uuid

from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session

from interop.auth.principals import Principal
from interop.concurrency import check_if_match
from interop.db import utcnow, violation_as
from interop.errors import Conflict, InvalidRequest
from interop.integrations.blueprint import Blueprint, parse_blueprint
from interop.integrations.models import Integration, IntegrationVersion
from interop.integrations.repository import (
    current_versions,
    get_readable_integration,
    get_version,
)
from interop.integrations.schemas import (
    IntegrationCreate,
    IntegrationOut,
    IntegrationUpdate,
    IntegrationVersionOut,
    IntegrationVersionUpdate,
)
from interop.tenants.models import Tenant


def create_integration(
    session: Session, principal: Principal, body: IntegrationCreate
) -> Integration:
    integration = Integration(
        account_id=principal.account_id,
        name=body.name,
        title=body.title or body.name,
        allow_beta=body.allow_beta,
    )
    taken = Conflict("integration_name_taken", f"an integration named {body.name!r} already exists")
    with violation_as(session, taken):
        session.add(integration)
    return integration


def update_integration(
    session: Session,
    principal: Principal,
    integration_id: uuid.UUID,
    body: IntegrationUpdate,
    if_match: str | None,
) -> int:
    integration = get_readable_integration(session, principal, integration_id, lock=True)
    check_if_match(if_match, integration.revision)
    current_version = current_versions(session, [integration.id]).get(integration.id)
    body.reject_changed_read_only(IntegrationOut.of(integration, current_version))
    if body.title is not None:
        integration.title = body.title
    if body.status is not None:
        integration.status = body.status
    if body.allow_beta is not None:
        integration.allow_beta = body.allow_beta
    integration.revision += 1
    return integration.revision


def delete_integration(
    session: Session, principal: Principal, integration_id: uuid.UUID, if_match: str | None
) -> None:
    integration = get_readable_integration(session, principal, integration_id, lock=True)
    check_if_match(if_match, integration.revision)
    in_use = Conflict("integration_in_use", "the integration still has tenants; uninstall them")
    if session.scalar(select(exists().where(Tenant.integration_id == integration.id))):
        raise in_use
    # The foreign key catches a tenant installed since the check above.
    with violation_as(session, in_use):
        session.execute(delete(Integration).where(Integration.id == integration.id))


def create_version(
    session: Session,
    principal: Principal,
    integration_id: uuid.UUID,
    document: bytes,
    max_bytes: int,
) -> IntegrationVersion:
    integration = get_readable_integration(session, principal, integration_id, lock=True)
    blueprint = parse_blueprint(document, max_bytes=max_bytes)
    version = IntegrationVersion(
        integration_id=integration.id,
        version=blueprint.version,
        release_state="development",
        **_blueprint_fields(blueprint, document),
    )
    exists_already = Conflict(
        "version_exists", f"the integration already has version {blueprint.version!r}"
    )
    with violation_as(session, exists_already):
        session.add(version)
    integration.revision += 1
    return version


def update_version(
    session: Session,
    principal: Principal,
    integration_id: uuid.UUID,
    version_name: str,
    body: IntegrationVersionUpdate,
    if_match: str | None,
) -> int:
    # Locked before the version, as create_version locks it: a release state can change
    # which version the integration shows.
    integration = get_readable_integration(session, principal, integration_id, lock=True)
    version = get_version(session, integration.id, version_name, lock=True)
    check_if_match(if_match, version.revision)
    body.reject_changed_read_only(IntegrationVersionOut.of(version))
    if body.release_state is not None and body.release_state != version.release_state:
        version.release_state = body.release_state
        integration.revision += 1
    if body.title is not None:
        version.title = body.title
    version.revision += 1
    return version.revision


def delete_version(
    session: Session,
    principal: Principal,
    integration_id: uuid.UUID,
    version_name: str,
    if_match: str | None,
) -> None:
    # Locked before the version, as in update_version; the integration's shown version may
    # be this one.
    integration = get_readable_integration(session, principal, integration_id, lock=True)
    version = get_version(session, integration.id, version_name, lock=True)
    check_if_match(if_match, version.revision)
    in_use = Conflict("version_in_use", f"a tenant runs version {version.version!r}")
    if session.scalar(select(exists().where(Tenant.integration_version_id == version.id))):
        raise in_use
    with violation_as(session, in_use):
        session.execute(delete(IntegrationVersion).where(IntegrationVersion.id == version.id))
    integration.revision += 1


def replace_blueprint(
    session: Session,
    principal: Principal,
    integration_id: uuid.UUID,
    version_name: str,
    document: bytes,
    max_bytes: int,
    if_match: str | None,
) -> IntegrationVersion:
    integration = get_readable_integration(session, principal, integration_id)
    version = get_version(session, integration.id, version_name, lock=True)
    check_if_match(if_match, version.revision)
    blueprint = parse_blueprint(document, max_bytes=max_bytes)
    if blueprint.version != version.version:
        raise InvalidRequest(
            f"the blueprint declares Version {blueprint.version!r} but the path names "
            f"{version.version!r}",
            code="version_mismatch",
        )
    for field, value in _blueprint_fields(blueprint, document).items():
        setattr(version, field, value)
    version.revision += 1
    # Set here, not by the column's onupdate at flush: the answer is built before the flush.
    version.updated_at = utcnow()
    return version


def _blueprint_fields(blueprint: Blueprint, document: bytes) -> dict[str, str | bool]:
    try:
        text = document.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRequest(
            "blueprint must be encoded as UTF-8", code="invalid_blueprint"
        ) from exc
    return {
        "title": blueprint.title,
        "blueprint": text,
        "blueprint_sha256": blueprint.sha256,
        "auth_type": blueprint.auth_type,
        "deliver_tasks": blueprint.deliver_tasks,
        "validate_tasks": blueprint.validate_tasks,
    }
