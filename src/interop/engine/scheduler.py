"""The scheduler: fires each enabled collection schedule once per day at its UTC hour.

A slot is one (schedule, day at hour) pair. Handling a slot happens under the schedule's row
lock, records `last_slot_at` and bumps the schedule's version; the queued ingestion carries the
slot and a unique index on (schedule_id, slot_at) refuses a second one, so any number of
scheduler processes fire a slot exactly once. A slot missed by less than an hour (the server
was down) runs late once; older ones are skipped, logged and recorded on the schedule
(`last_skipped_at`, `last_skip_reason`).
"""

import logging
import uuid
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from interop.db import Database, utcnow
from interop.ingestions.models import PENDING_STATES, Ingestion
from interop.rollovers.models import Rollover
from interop.schedules.models import Schedule

log = logging.getLogger("interop.scheduler")
LATE_GRACE = timedelta(hours=1)


def latest_slot(hour: int, now: datetime) -> datetime:
    """The newest `hour:00 UTC` at or before now."""
    slot = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    return slot if slot <= now else slot - timedelta(days=1)


def tick(database: Database, now: datetime | None = None) -> int:
    """One pass: move rollover statuses, then handle every due slot. Returns slots fired."""
    now = now or utcnow()
    with database.transaction() as session:
        advance_rollovers(session, now)
    fired = 0
    for schedule_id in _due_schedules(database, now):
        with database.transaction() as session:
            fired += _handle_slot(session, database.is_sqlite, schedule_id, now)
    return fired


def advance_rollovers(session: Session, now: datetime) -> None:
    """`scheduled` → `active` at start_date, `active` → `completed` at end_date."""
    session.execute(
        update(Rollover)
        .where(Rollover.status.in_(("scheduled", "active")), Rollover.end_date <= now)
        .values(status="completed", version=Rollover.version + 1, updated_at=now)
    )
    session.execute(
        update(Rollover)
        .where(Rollover.status == "scheduled", Rollover.start_date <= now)
        .values(status="active", version=Rollover.version + 1, updated_at=now)
    )


def _due_schedules(database: Database, now: datetime) -> list[uuid.UUID]:
    with database.transaction(write=False) as session:
        rows = session.execute(
            select(Schedule.id, Schedule.hour, Schedule.last_slot_at).where(
                Schedule.enabled.is_(True), Schedule.type == "collection"
            )
        ).all()
    return [
        row.id
        for row in rows
        if row.last_slot_at is None or row.last_slot_at < latest_slot(row.hour, now)
    ]


def _handle_slot(session: Session, is_sqlite: bool, schedule_id: uuid.UUID, now: datetime) -> int:
    statement = select(Schedule).where(Schedule.id == schedule_id)
    if not is_sqlite:  # another scheduler holds it: it is handling the slot
        statement = statement.with_for_update(skip_locked=True)
    schedule = session.scalar(statement)
    if schedule is None or not schedule.enabled:
        return 0
    slot = latest_slot(schedule.hour, now)
    if schedule.last_slot_at is not None and schedule.last_slot_at >= slot:
        return 0  # handled meanwhile by another scheduler
    schedule.last_slot_at = slot
    # Every way on from here writes the schedule (updated_at at least; last_run_at or the
    # skip too), so its version moves with it, as the rollovers' do above: else its ETag
    # stayed the same, and a client sending back what it had read with a matching If-Match
    # was told it changed the read-only fields the scheduler wrote.
    schedule.version += 1
    if slot < schedule.created_at:
        return 0  # the schedule did not exist yet at that hour
    if now - slot > LATE_GRACE:
        _skip(schedule, now, "missed", f"slot {slot.isoformat()} was missed by over an hour")
        return 0
    pending = session.scalar(
        select(Ingestion.id).where(
            Ingestion.tenant_id == schedule.tenant_id, Ingestion.state.in_(PENDING_STATES)
        )
    )
    if pending is not None:
        _skip(schedule, now, "ingestion_pending", f"ingestion {pending} is still pending")
        return 0
    try:
        with session.begin_nested():
            session.add(
                Ingestion(
                    tenant_id=schedule.tenant_id,
                    schedule_id=schedule.id,
                    type="collection",
                    state="scheduled",
                    trigger="schedule",
                    topics=[],
                    requested_at=now,
                    slot_at=slot,
                )
            )
            session.flush()
    except IntegrityError:  # the slot fired elsewhere, or a run was queued meanwhile
        _skip(schedule, now, "ingestion_pending", "another ingestion was queued meanwhile")
        return 0
    schedule.last_run_at = now
    log.info("schedule %s fired its %s slot", schedule.id, slot.isoformat())
    return 1


def _skip(schedule: Schedule, now: datetime, reason: str, message: str) -> None:
    schedule.last_skipped_at = now
    schedule.last_skip_reason = reason
    log.warning("schedule %s skipped a slot: %s", schedule.id, message)
