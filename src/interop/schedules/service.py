"""Schedule rules: one collection schedule per hour, only `enabled` changes, run on demand."""

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from interop.auth.principals import Principal
from interop.concurrency import check_if_match
from interop.db import AnySelect, held_against_deletion, utcnow, violation_as
from interop.engine.scheduler import latest_slot
from interop.errors import Conflict, InvalidRequest, NotFound
from interop.ingestions.models import Ingestion
from interop.ingestions.service import queue_on_demand
from interop.paging import paged
from interop.schedules.models import Schedule
from interop.schedules.schemas import Schedule as ScheduleOut
from interop.schedules.schemas import ScheduleCreate, ScheduleUpdate, next_occurrence
from interop.tenants.models import Tenant
from interop.tenants.repository import own_tenant_id

LIST_ORDER = (Schedule.created_at, Schedule.id)
# The page of a tenant's schedules every actor's list request reads, built once
# (paging.paged); its columns are the values schemas.Schedule.of reads.
TENANT_SCHEDULES_PAGE = paged(
    select(
        Schedule.id,
        Schedule.tenant_id,
        Schedule.type,
        Schedule.hour,
        Schedule.enabled,
        Schedule.last_run_at,
        Schedule.last_skipped_at,
        Schedule.last_skip_reason,
        Schedule.created_at,
        Schedule.updated_at,
        Schedule.version,
    )
    .where(Schedule.tenant_id == bindparam("tenant_id"))
    .order_by(*LIST_ORDER)
)


def tenant_schedules(principal: Principal) -> AnySelect:
    statement = select(Schedule).where(Schedule.tenant_id == own_tenant_id(principal))
    return statement.order_by(*LIST_ORDER)


def get_schedule(
    session: Session,
    principal: Principal,
    schedule_id: uuid.UUID,
    lock: bool = False,
    hold: bool = False,
) -> Schedule:
    """The tenant's schedule; `lock` locks it for a change, `hold` against deletion only."""
    statement = tenant_schedules(principal).where(Schedule.id == schedule_id)
    if lock:
        statement = statement.with_for_update()
    elif hold:
        statement = held_against_deletion(statement)
    schedule: Schedule | None = session.scalar(statement)
    if schedule is None:
        raise NotFound("schedule")
    return schedule


def create_schedule(session: Session, principal: Principal, body: ScheduleCreate) -> Schedule:
    tenant_id = _hold_tenant(session, principal)
    schedule = Schedule(tenant_id=tenant_id, type="collection", hour=body.hour)
    overlap = Conflict(
        "schedule_overlap", f"the tenant already has a collection schedule at hour {body.hour}"
    )
    with violation_as(session, overlap):
        session.add(schedule)
    return schedule


def update_schedule(
    session: Session,
    principal: Principal,
    schedule_id: uuid.UUID,
    body: ScheduleUpdate,
    if_match: str | None,
) -> int:
    """The schedule's version after the change (for the answer's ETag)."""
    schedule = get_schedule(session, principal, schedule_id, lock=True)
    check_if_match(if_match, schedule.version)
    body.reject_changed_read_only(_as_read(schedule, body, utcnow()))
    if body.enabled is not None and body.enabled != schedule.enabled:
        schedule.enabled = body.enabled
        schedule.version += 1
        if body.enabled:
            _owe_no_past_slot(schedule)
    return schedule.version


def _as_read(schedule: Schedule, body: ScheduleUpdate, now: datetime) -> ScheduleOut:
    """The schedule as the client read it, for the read-only check. `next_run_at` is
    computed from the clock when the schedule is read: it moves on at the hour with no write
    (the version moves once the scheduler handles the slot), so a body read before the hour
    and sent back after it would be told it changed that field. Every value it took since
    the schedule's last write was shown for this version, so each is what the client read."""
    shown = ScheduleOut.of(schedule, now)
    read = _moment((body.model_extra or {}).get("next_run_at"))
    if (
        shown.next_run_at is not None
        and read is not None
        and schedule.updated_at < read < shown.next_run_at
        and read == next_occurrence(schedule.hour, read - timedelta(microseconds=1))
    ):
        return shown.model_copy(update={"next_run_at": read})
    return shown


def _moment(value: Any) -> datetime | None:
    """An RFC 3339 time sent in a body, or None for anything else."""
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
    return moment if moment is not None and moment.tzinfo is not None else None


def delete_schedule(
    session: Session, principal: Principal, schedule_id: uuid.UUID, if_match: str | None
) -> None:
    schedule = get_schedule(session, principal, schedule_id, lock=True)
    check_if_match(if_match, schedule.version)
    session.delete(schedule)


def run_schedule(session: Session, principal: Principal, schedule_id: uuid.UUID) -> Ingestion:
    """Queue an on-demand collection; the one-pending-per-tenant index settles races."""
    # The new ingestion refers to its tenant and its schedule, so both are held against a
    # racing delete (which then waits and takes the ingestion along, or went first and the
    # schedule is 404), the tenant first: a cloud's delete takes the tenant before its
    # schedules, and holding only the schedule deadlocked with it.
    _hold_tenant(session, principal)
    schedule = get_schedule(session, principal, schedule_id, hold=True)
    if schedule.type != "collection":
        raise InvalidRequest(
            f"a {schedule.type} schedule cannot run on demand", code="not_runnable"
        )
    if not schedule.enabled:
        raise Conflict("schedule_paused", "the schedule is disabled; enable it to run it")
    return queue_on_demand(session, schedule.tenant_id, schedule.id)


def _hold_tenant(session: Session, principal: Principal) -> uuid.UUID:
    """The caller's tenant, held against deletion until the transaction ends, for a write
    that adds a row referring to it: deleted meanwhile (with its cloud), it is 404, where the
    new row's foreign key failed (and a create's unique-index handler took that for a twin)."""
    statement = select(Tenant.id).where(Tenant.id == own_tenant_id(principal))
    tenant_id = session.scalar(held_against_deletion(statement))
    if tenant_id is None:
        raise NotFound("tenant")
    return tenant_id


def _owe_no_past_slot(schedule: Schedule) -> None:
    """A re-enabled schedule first fires at its next hour, as `next_run_at` says: the slots
    it was disabled across are not missed ones (the scheduler runs a slot up to an hour
    late, so one re-enabled at 22:28 fired its 22:00 slot at once)."""
    passed = latest_slot(schedule.hour, utcnow())
    if schedule.last_slot_at is None or schedule.last_slot_at < passed:
        schedule.last_slot_at = passed
