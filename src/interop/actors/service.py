"""Installing, uninstalling and re-keying actors; installing an integration makes a tenant."""

import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from interop.accounts.repository import is_visible_account
from interop.actors.models import Actor
from interop.actors.repository import actor_row, get_readable_actor, readable_actors
from interop.actors.schemas import (
    ActorCredentials,
    ActorIntegration,
    ActorOut,
    ConnectorInstall,
    IntegrationInstall,
    LicenseTerms,
)
from interop.application.service import new_application
from interop.auth.principals import Principal
from interop.auth.secrets import SecretBox, new_client_id, new_secret
from interop.clouds.models import Cloud
from interop.clouds.repository import get_readable_cloud
from interop.concurrency import check_if_match
from interop.connectors.bundle import BundleError, local_source_path
from interop.db import held_against_deletion, utcnow, violation_as
from interop.errors import Conflict, InvalidRequest, NotFound
from interop.integrations.models import Integration, IntegrationVersion
from interop.paging import PageParams, fetch_page, page_envelope
from interop.tenants.models import Tenant


def actor_out(row: Any, box: SecretBox | None = None) -> ActorOut:
    """Render an actor row; with a `box`, the decrypted secret is included."""
    actor, integration_name, version, tenant_id = row
    credentials: ActorCredentials = {"client_id": actor.client_id}
    if box is not None:
        credentials["client_secret"] = box.decrypt(actor.secret_encrypted)
    integration = (
        ActorIntegration(id=actor.integration_id, name=integration_name, version=version)
        if actor.integration_id
        else None
    )
    return ActorOut(
        id=actor.id,
        account_id=actor.account_id,
        cloud_id=actor.cloud_id,
        name=actor.name,
        type=actor.type,
        integration=integration,
        tenant_id=tenant_id,
        credentials=credentials,
        source=actor.source,
        created_at=actor.created_at,
        updated_at=actor.updated_at,
        version=actor.version,
    )


def page_of_actors(
    session: Session,
    principal: Principal,
    page: PageParams,
    cloud_id: uuid.UUID | None = None,
    box: SecretBox | None = None,
) -> dict[str, Any]:
    statement = readable_actors(principal)
    if cloud_id is not None:
        statement = statement.where(Actor.cloud_id == cloud_id)
    rows, has_next = fetch_page(session, statement, page)
    return page_envelope([actor_out(row, box) for row in rows], page, has_next)


def install_actor(
    session: Session,
    box: SecretBox,
    principal: Principal,
    cloud_id: uuid.UUID,
    body: IntegrationInstall | ConnectorInstall,
    source_roots: list[Path],
) -> ActorOut:
    cloud = get_readable_cloud(session, principal, cloud_id, hold=True)
    if isinstance(body, IntegrationInstall):
        actor = _install_integration(session, box, principal, cloud, body)
    else:
        _check_source_location(body.source.location, source_roots)
        actor = _new_actor(box, cloud, "connector", body.name)
        actor.source = body.source.model_dump(include={"kind", "location"})
        session.add(actor)
        session.flush()
    return actor_out(actor_row(session, principal, actor.id), box)


def uninstall_actor(
    session: Session,
    principal: Principal,
    cloud_id: uuid.UUID,
    actor_id: uuid.UUID,
    if_match: str | None,
) -> None:
    """Deletes the actor and its tenant (cascade); its tokens stop working at once."""
    actor = get_readable_actor(session, principal, cloud_id, actor_id)
    check_if_match(if_match, actor.version)
    session.execute(delete(Actor).where(Actor.id == actor.id))


def rotate_credentials(
    session: Session,
    box: SecretBox,
    principal: Principal,
    cloud_id: uuid.UUID,
    actor_id: uuid.UUID,
    if_match: str | None,
) -> ActorOut:
    actor = get_readable_actor(session, principal, cloud_id, actor_id)
    check_if_match(if_match, actor.version)
    actor.secret_encrypted = box.encrypt(new_secret())
    # Tokens carry the generation they were issued for: the old ones fail from now on.
    actor.secret_generation += 1
    actor.version += 1
    actor.updated_at = utcnow()
    session.flush()
    return actor_out(actor_row(session, principal, actor.id), box)


def _check_source_location(location: str, roots: list[Path]) -> None:
    """A location no collection could read is refused now, not when the first one fails. The
    worker checks again with its own settings (an http(s) address only then: DNS may change)."""
    try:
        local_source_path(location, roots)
    except BundleError as exc:
        raise InvalidRequest(
            exc.message, details=[{"field": "body.source.location", "message": exc.message}]
        ) from exc


def _new_actor(box: SecretBox, cloud: Cloud, actor_type: str, name: str) -> Actor:
    return Actor(
        id=uuid.uuid4(),
        account_id=cloud.account_id,
        cloud_id=cloud.id,
        name=name,
        type=actor_type,
        client_id=new_client_id("act"),
        secret_encrypted=box.encrypt(new_secret()),
    )


def _install_integration(
    session: Session,
    box: SecretBox,
    principal: Principal,
    cloud: Cloud,
    body: IntegrationInstall,
) -> Actor:
    valid_from, valid_to = _license_period(body.license)
    integration = _find_integration(session, body)
    owner = _owns(session, principal, integration)
    if not owner and integration.status != "active":
        raise NotFound("integration")
    version = _installable_version(session, integration, body.integration.version, owner)
    actor = _new_actor(box, cloud, "integration", body.name or integration.title)
    actor.integration_id = integration.id
    actor.integration_version_id = version.id
    tenant = Tenant(
        account_id=cloud.account_id,
        cloud_id=cloud.id,
        actor_id=actor.id,
        integration_id=integration.id,
        integration_version_id=version.id,
        name=actor.name,
        license_valid_from=valid_from,
        license_valid_to=valid_to,
        license_status="active",
    )
    already = Conflict(
        "integration_already_installed",
        f"integration {integration.name!r} is already installed in this cloud",
    )
    with violation_as(session, already):
        session.add(actor)
        session.flush()
        session.add(tenant)
        session.flush()
        session.add(new_application(tenant, version))
    return actor


def _license_period(terms: LicenseTerms | None) -> tuple[datetime, datetime | None]:
    """(valid_from, valid_to) of a new license: it starts now, and must end after that. An end
    already past installed a tenant whose license never held, yet read `active`."""
    valid_from = utcnow()
    valid_to = terms.valid_to if terms else None
    if valid_to is not None and valid_to <= valid_from:
        message = (
            f"license.valid_to must be after the license's start (now, {_rfc3339(valid_from)}),"
            f" got {_rfc3339(valid_to)}"
        )
        raise InvalidRequest(
            message,
            details=[{"field": "body.license.valid_to", "message": "must be in the future"}],
        )
    return valid_from, valid_to


def _rfc3339(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _find_integration(session: Session, body: IntegrationInstall) -> Integration:
    ref = body.integration
    if ref.id is None and ref.name is None:
        raise InvalidRequest(
            "integration needs an id or a name",
            details=[{"field": "body.integration", "message": "give id or name"}],
        )
    # Held like the cloud: a racing delete of the integration waits, then finds the new tenant
    # (integration_in_use), or this install finds it gone (404).
    statement = held_against_deletion(select(Integration))
    if ref.id is not None:
        statement = statement.where(Integration.id == ref.id)
    if ref.name is not None:
        statement = statement.where(Integration.name == ref.name)
    integration = session.scalar(statement)
    if integration is None:
        raise NotFound("integration")
    return integration


def _owns(session: Session, principal: Principal, integration: Integration) -> bool:
    return principal.is_operator or is_visible_account(session, principal, integration.account_id)


def _installable_version(
    session: Session, integration: Integration, wanted: str | None, owner: bool
) -> IntegrationVersion:
    """The owner may install any version; others a released one (beta if the owner allows)."""
    statement = (
        select(IntegrationVersion)
        .where(IntegrationVersion.integration_id == integration.id)
        .order_by(IntegrationVersion.created_at.desc(), IntegrationVersion.id.desc())
    )
    if not owner:
        states = ["released", "beta"] if integration.allow_beta else ["released"]
        statement = statement.where(IntegrationVersion.release_state.in_(states))
    installable = statement
    if wanted is not None:
        statement = statement.where(IntegrationVersion.version == wanted)
    # Held too: a version deleted meanwhile is not installed (version_in_use, or 404 here).
    candidates = list(session.scalars(held_against_deletion(statement)))
    if not candidates:
        # To anyone but its owner, an integration with nothing installable is one that does
        # not exist: the answer must not tell the two apart.
        if not owner and session.scalars(installable.limit(1)).first() is None:
            raise NotFound("integration")
        raise NotFound("installable integration version")
    released = [version for version in candidates if version.release_state == "released"]
    return (released or candidates)[0]
