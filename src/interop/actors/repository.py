"""Actor queries: the readable statement and the rows that render an actor in one go."""

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from interop.accounts.repository import visible_account_ids
from interop.actors.models import Actor
from interop.auth.principals import Principal
from interop.db import AnySelect
from interop.errors import NotFound
from interop.integrations.models import Integration, IntegrationVersion
from interop.tenants.models import Tenant


def readable_actors(principal: Principal) -> AnySelect:
    """Actors with what their JSON needs: integration name, version string and tenant id."""
    statement: AnySelect = (
        select(Actor, Integration.name, IntegrationVersion.version, Tenant.id)
        .outerjoin(Integration, Integration.id == Actor.integration_id)
        .outerjoin(IntegrationVersion, IntegrationVersion.id == Actor.integration_version_id)
        .outerjoin(Tenant, Tenant.actor_id == Actor.id)
        .order_by(Actor.created_at, Actor.id)
    )
    if principal.is_operator:
        return statement
    return statement.where(Actor.account_id.in_(visible_account_ids(principal)))


def get_readable_actor(
    session: Session, principal: Principal, cloud_id: uuid.UUID, actor_id: uuid.UUID
) -> Actor:
    statement = (
        select(Actor).where(Actor.id == actor_id, Actor.cloud_id == cloud_id).with_for_update()
    )
    if not principal.is_operator:
        statement = statement.where(Actor.account_id.in_(visible_account_ids(principal)))
    actor = session.scalar(statement)
    if actor is None:
        raise NotFound("actor")
    return actor


def actor_row(session: Session, principal: Principal, actor_id: uuid.UUID) -> Any:
    return session.execute(readable_actors(principal).where(Actor.id == actor_id)).one()
