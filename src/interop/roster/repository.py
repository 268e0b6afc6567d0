"""Roster queries: a tenant's records of one topic, whole or changed since a time."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from interop.db import AnySelect
from interop.errors import InvalidRequest, NotFound
from interop.roster.models import TOPIC_TABLES, RosterRecord


def tenant_records(
    topic: str, tenant_id: uuid.UUID, changed_since: datetime | None, after: str | None = None
) -> AnySelect:
    """The current records in sourcedId order (bytewise on both backends: the column's
    collation), with `after` only those whose sourcedId sorts after it (a range of the
    primary key's index); with `changed_since`, every change after it (deletions included,
    as `tobedeleted`) in the order they happened."""
    table = TOPIC_TABLES[topic]
    statement = select(table).where(table.tenant_id == tenant_id)
    if changed_since is None:
        if after is not None:
            statement = statement.where(table.sourced_id > after)
        return statement.where(table.status == "active").order_by(table.sourced_id)
    if after is not None:
        raise InvalidRequest(
            "after= pages by sourcedId, and a changed_since listing is ordered by change "
            "time: follow its next links instead",
            details=[{"field": "query.after", "message": "not with changed_since"}],
        )
    return statement.where(table.updated_at > changed_since).order_by(
        table.updated_at, table.sourced_id
    )


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
