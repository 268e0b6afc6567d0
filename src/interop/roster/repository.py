"""Roster queries: a tenant's records of one topic, whole or changed since a time."""

import re
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, literal, select, tuple_
from sqlalchemy.orm import Session

from interop.db import AnySelect, UTCDateTime
from interop.errors import InvalidRequest, NotFound
from interop.roster.models import MAX_SOURCED_ID_LENGTH, TOPIC_TABLES, RosterRecord


def tenant_records(
    topic: str, tenant_id: uuid.UUID, changed_since: datetime | None, after: str | None = None
) -> AnySelect:
    """The current records in sourcedId order (bytewise on both backends: the column's
    collation), with `after` only those whose sourcedId sorts after it (a range of the
    primary key's index); with `changed_since`, every change after it (deletions included,
    as `tobedeleted`) in the order they happened, with `after` (a `change_cursor`) only the
    changes listed after the one it names."""
    table = TOPIC_TABLES[topic]
    statement = select(table).where(table.tenant_id == tenant_id)
    if changed_since is not None:
        return statement.where(_changed_after(table, changed_since, after)).order_by(
            table.updated_at, table.sourced_id
        )
    if after is not None:
        if len(after) > MAX_SOURCED_ID_LENGTH:
            raise _bad_after(
                f"after is at most {MAX_SOURCED_ID_LENGTH} characters (a sourcedId's length), "
                f"got {len(after)}",
                "longer than a sourcedId",
            )
        statement = statement.where(table.sourced_id > after)
    return statement.where(table.status == "active").order_by(table.sourced_id)


def _changed_after(
    table: type[RosterRecord], changed_since: datetime, cursor: str | None
) -> ColumnElement[bool]:
    """The changes after `changed_since` and after the change `cursor` names (none when it is
    empty): whichever of the two bounds is the later implies the other, so the condition is
    that one alone, a single range of the (tenant, updated_at, sourcedId) index."""
    if cursor:
        updated_at, sourced_id = _read_change_cursor(cursor)
        if updated_at > changed_since:
            return tuple_(table.updated_at, table.sourced_id) > tuple_(
                literal(updated_at, UTCDateTime), literal(sourced_id, table.sourced_id.type)
            )
    return table.updated_at > changed_since


def change_cursor(record: RosterRecord) -> str:
    """Where a changed_since listing continues after `record`: `<updated_at>,<sourcedId>`,
    the time in UTC to the microsecond as stored (2026-01-31T08:00:00.250000Z), so records
    changed at one time are told apart by sourcedId."""
    updated_at = record.updated_at.astimezone(UTC).replace(tzinfo=None)
    return f"{updated_at.isoformat(timespec='microseconds')}Z,{record.sourced_id}"


_CHANGE_CURSOR = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6})Z,(.*)", re.DOTALL
)
CHANGE_CURSOR_LENGTH = len("2026-01-31T08:00:00.000000Z,") + MAX_SOURCED_ID_LENGTH


def _read_change_cursor(cursor: str) -> tuple[datetime, str]:
    """(updated_at, sourcedId) of a `change_cursor`."""
    found = _CHANGE_CURSOR.fullmatch(cursor)
    if found is not None:
        try:
            return datetime.fromisoformat(found[1]).replace(tzinfo=UTC), found[2]
        except ValueError:
            pass  # digits in place, but no such time (month 13, hour 25)
    raise _bad_after(
        "with changed_since, after is the cursor its next links carry, "
        f"<updated_at in UTC to the microsecond>Z,<sourcedId>, got {cursor!r}",
        "not a changed_since cursor",
    )


def _bad_after(message: str, problem: str) -> InvalidRequest:
    return InvalidRequest(message, details=[{"field": "query.after", "message": problem}])


def get_record(session: Session, topic: str, tenant_id: uuid.UUID, sourced_id: str) -> RosterRecord:
    table = TOPIC_TABLES[topic]
    record = session.get(table, (tenant_id, sourced_id))
    if record is None or record.status != "active":
        raise NotFound(topic.removesuffix("s").replace("_", " "))
    return record


def record_out(record: RosterRecord) -> dict[str, Any]:
    """The record as its topic's read model takes it (`RosterItem.served`, which also serves
    values stored by earlier versions: records stored now pay nothing for them here)."""
    return {
        **record.fields,
        "sourced_id": record.sourced_id,
        "status": record.status,
        "date_last_modified": record.date_last_modified,
        "updated_at": record.updated_at,
    }
