"""Rollover rules: valid ranges in the tenant's own cloud, and no two live ones overlapping.

Overlap is checked while the tenant row is locked (PostgreSQL) or under SQLite's write lock,
so two racing writers are serialized: the second sees the first's rollover and is refused.
"""

import uuid

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from interop.actors.models import Actor
from interop.auth.principals import Principal
from interop.concurrency import check_if_match
from interop.db import AnySelect, held_against_deletion, utcnow
from interop.errors import Conflict, InvalidRequest, NotFound
from interop.rollovers.models import Rollover
from interop.rollovers.repository import rollover_in_effect
from interop.rollovers.schemas import SORT_FIELDS, RolloverIn
from interop.rollovers.schemas import Rollover as RolloverOut
from interop.tenants.models import Tenant
from interop.tenants.repository import lock_tenant, own_tenant_id

CREATABLE_STATUSES = ("scheduled", "active")


def tenant_rollovers(principal: Principal, sort: str | None = None) -> AnySelect:
    statement = select(Rollover).where(Rollover.tenant_id == own_tenant_id(principal))
    return statement.order_by(*sort_order(sort), Rollover.created_at, Rollover.id)


def sort_order(sort: str | None) -> list[ColumnElement[object]]:
    """`sort=-start_date,name` → ORDER BY start_date DESC, name; unknown fields are 400."""
    order: list[ColumnElement[object]] = []
    for raw in (sort or "").split(","):
        field = raw.strip()
        if not field:
            continue
        descending = field.startswith("-")
        name = field.lstrip("-")
        if name not in SORT_FIELDS:
            raise InvalidRequest(
                f"cannot sort by {name!r}; sort by {', '.join(SORT_FIELDS)}",
                details=[{"field": "query.sort", "message": f"unknown field {name!r}"}],
            )
        column = getattr(Rollover, name)
        order.append(column.desc() if descending else column.asc())
    return order


def get_rollover(
    session: Session, principal: Principal, rollover_id: uuid.UUID, lock: bool = False
) -> Rollover:
    statement = tenant_rollovers(principal).where(Rollover.id == rollover_id)
    rollover: Rollover | None = session.scalar(statement.with_for_update() if lock else statement)
    if rollover is None:
        raise NotFound("rollover")
    return rollover


def create_rollover(session: Session, principal: Principal, body: RolloverIn) -> Rollover:
    tenant = lock_tenant(session, own_tenant_id(principal))
    if body.status not in CREATABLE_STATUSES:
        raise InvalidRequest(
            f"a new rollover is scheduled or active, not {body.status}",
            details=[{"field": "body.status", "message": "scheduled or active"}],
        )
    _validate(session, tenant, body)
    _refuse_overlap(session, tenant.id, body, exclude=None)
    rollover = Rollover(tenant_id=tenant.id, **_fields(body))
    session.add(rollover)
    session.flush()
    return rollover


def replace_rollover(
    session: Session,
    principal: Principal,
    rollover_id: uuid.UUID,
    body: RolloverIn,
    if_match: str | None,
) -> Rollover:
    tenant = lock_tenant(session, own_tenant_id(principal))
    rollover = get_rollover(session, principal, rollover_id, lock=True)
    check_if_match(if_match, rollover.version)
    body.reject_changed_read_only(RolloverOut.of(rollover))
    _validate(session, tenant, body)
    if body.status != "cancelled":
        _refuse_overlap(session, tenant.id, body, exclude=rollover.id)
    for field, value in _fields(body).items():
        setattr(rollover, field, value)
    rollover.version += 1
    rollover.updated_at = utcnow()
    session.flush()
    return rollover


def delete_rollover(
    session: Session, principal: Principal, rollover_id: uuid.UUID, if_match: str | None
) -> None:
    rollover = get_rollover(session, principal, rollover_id, lock=True)
    check_if_match(if_match, rollover.version)
    # Active by its status, or a scheduled one the engine applies already (its start has
    # passed; the scheduler's next pass makes it active): the tenant state names it too.
    in_effect = rollover_in_effect(session, rollover.tenant_id, utcnow())
    if rollover.status == "active" or in_effect == rollover.id:
        raise Conflict(
            "rollover_active", "an active rollover cannot be deleted; cancel or complete it"
        )
    session.delete(rollover)


def _validate(session: Session, tenant: Tenant, body: RolloverIn) -> None:
    problems = []
    if body.start_date >= body.end_date:
        problems.append({"field": "body.end_date", "message": "must be after start_date"})
    if body.cloud_id != tenant.cloud_id:
        problems.append({"field": "body.cloud_id", "message": "must be the tenant's cloud"})
    if body.actor_id is not None and not _actor_in_cloud(session, body.actor_id, tenant.cloud_id):
        problems.append({"field": "body.actor_id", "message": "must be an actor of the cloud"})
    if problems:
        raise InvalidRequest(
            f"invalid rollover: {problems[0]['field']} {problems[0]['message']}", problems
        )


def _actor_in_cloud(session: Session, actor_id: uuid.UUID, cloud_id: uuid.UUID) -> bool:
    """Whether the actor is one of the cloud's, held against deletion until the write ends:
    an uninstall racing the write waits, or went first and the actor is not found (400),
    where the new row's foreign key failed."""
    found = select(Actor.id).where(Actor.id == actor_id, Actor.cloud_id == cloud_id)
    return session.scalar(held_against_deletion(found)) is not None


def _refuse_overlap(
    session: Session, tenant_id: uuid.UUID, body: RolloverIn, exclude: uuid.UUID | None
) -> None:
    """Half-open ranges [start, end) overlap when each starts before the other ends.

    An `active` rollover applies from now when its start_date is later (repository.in_effect),
    so its range starts at the earlier of the two: two rollovers never apply at once, and the
    state names the one the engine applies."""
    # min(start_date, now) < end holds when start_date < end, or when active and now < end.
    now = utcnow()
    other_starts_first = Rollover.start_date < body.end_date
    if now < body.end_date:
        other_starts_first = or_(other_starts_first, Rollover.status == "active")
    body_starts_first = body.start_date < Rollover.end_date
    if body.status == "active":
        body_starts_first = or_(body_starts_first, Rollover.end_date > now)
    statement = select(Rollover.id).where(
        Rollover.tenant_id == tenant_id,
        Rollover.status != "cancelled",
        other_starts_first,
        body_starts_first,
    )
    if exclude is not None:
        statement = statement.where(Rollover.id != exclude)
    other = session.scalar(statement.limit(1))
    if other is not None:
        raise Conflict(
            "rollover_overlap",
            f"the dates overlap rollover {other}",
            details={"rollover_id": str(other)},
        )


def _fields(body: RolloverIn) -> dict[str, object]:
    return {
        "name": body.name,
        "start_date": body.start_date,
        "end_date": body.end_date,
        "type": body.type,
        "status": body.status,
        "cloud_id": body.cloud_id,
        "actor_id": body.actor_id,
        "extra": body.metadata,
    }
