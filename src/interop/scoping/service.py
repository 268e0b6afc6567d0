"""Scoping rules, shared by schools and courses: entries carry an identifier, no identifier
appears twice in a tenant, and a bulk write is all or nothing."""

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from interop.auth.principals import Principal
from interop.concurrency import check_if_match
from interop.db import AnySelect, bulk_insert, utcnow, violation_as
from interop.errors import Conflict, InvalidRequest, NotFound
from interop.schemas import InputModel
from interop.scoping import models, schemas
from interop.tenants.repository import lock_tenant, own_tenant_id


@dataclass(frozen=True)
class ScopingKind:
    """What differs between scoping schools and scoping courses."""

    noun: str
    model: type[models.ScopingEntry]
    out: type[BaseModel]
    identifiers: tuple[str, ...]
    fields: tuple[str, ...]


_COMMON_FIELDS = ("school_id", "school_ref_id", "name", "local_id", "keywords", "selected")
SCHOOLS = ScopingKind(
    "school",
    models.ScopingSchool,
    schemas.ScopingSchool,
    ("school_id", "school_ref_id"),
    _COMMON_FIELDS,
)
COURSES = ScopingKind(
    "course",
    models.ScopingCourse,
    schemas.ScopingCourse,
    ("course_id", "course_ref_id"),
    (*_COMMON_FIELDS, "course_id", "course_ref_id"),
)


def tenant_entries(kind: ScopingKind, principal: Principal) -> AnySelect:
    model = kind.model
    return (
        select(model)
        .where(model.tenant_id == own_tenant_id(principal))
        .order_by(model.created_at, model.id)
    )


def get_entry(
    session: Session,
    kind: ScopingKind,
    principal: Principal,
    entry_id: uuid.UUID,
    lock: bool = False,
) -> Any:
    """The tenant's entry; `lock` holds it until the transaction ends, for a write that
    checks If-Match: a racing PUT or DELETE waits, then reads the new version, or no entry."""
    statement = tenant_entries(kind, principal).where(kind.model.id == entry_id)
    entry = session.scalar(statement.with_for_update() if lock else statement)
    if entry is None:
        raise NotFound(f"scoping {kind.noun}")
    return entry


def create_entries(
    session: Session,
    kind: ScopingKind,
    principal: Principal,
    entries: list[InputModel],
    replace: bool,
) -> list[BaseModel]:
    """Replace (or extend) the tenant's set in one statement; any bad entry changes nothing."""
    tenant = lock_tenant(session, own_tenant_id(principal))
    for index, entry in enumerate(entries):
        _require_identifier(kind, entry, index)
    taken = {} if replace else _identifiers_in_use(session, kind, tenant.id)
    _refuse_duplicates(kind, entries, taken)
    if replace:
        session.execute(delete(kind.model).where(kind.model.tenant_id == tenant.id))
    now = utcnow()
    # Creation times one microsecond apart keep the batch's order in every listing.
    rows = [
        {
            "id": uuid.uuid4(),
            "account_id": tenant.account_id,
            "tenant_id": tenant.id,
            "created_at": now + timedelta(microseconds=index),
            "updated_at": now + timedelta(microseconds=index),
            "version": 1,
            **entry.model_dump(include=set(kind.fields)),
        }
        for index, entry in enumerate(entries)
    ]
    if rows:
        with violation_as(session, _duplicate(kind, "an entry repeats an identifier", None)):
            # The mixin is not mapped itself; both concrete models have a table.
            bulk_insert(session, kind.model.__table__, rows)  # type: ignore[attr-defined]
    return [kind.out.model_validate(row) for row in rows]


def replace_entry(
    session: Session,
    kind: ScopingKind,
    principal: Principal,
    entry_id: uuid.UUID,
    body: InputModel,
    if_match: str | None,
) -> Any:
    tenant = lock_tenant(session, own_tenant_id(principal))
    entry = get_entry(session, kind, principal, entry_id, lock=True)
    check_if_match(if_match, entry.version)
    body.reject_changed_read_only(kind.out.model_validate(entry))
    _require_identifier(kind, body, None)
    taken = _identifiers_in_use(session, kind, tenant.id, exclude=entry.id)
    _refuse_duplicates(kind, [body], taken)
    for field, value in body.model_dump(include=set(kind.fields)).items():
        setattr(entry, field, value)
    entry.version += 1
    entry.updated_at = utcnow()
    # Flushed in a savepoint: a twin written concurrently trips the unique index, not a 500.
    with violation_as(session, _duplicate(kind, "the entry repeats an identifier", None)):
        session.add(entry)
    return entry


def delete_entry(
    session: Session,
    kind: ScopingKind,
    principal: Principal,
    entry_id: uuid.UUID,
    if_match: str | None,
) -> None:
    entry = get_entry(session, kind, principal, entry_id, lock=True)
    check_if_match(if_match, entry.version)
    session.delete(entry)


def delete_all(session: Session, kind: ScopingKind, principal: Principal) -> None:
    tenant_id = own_tenant_id(principal)
    session.execute(delete(kind.model).where(kind.model.tenant_id == tenant_id))


def _require_identifier(kind: ScopingKind, entry: InputModel, index: int | None) -> None:
    if any(getattr(entry, field) is not None for field in kind.identifiers):
        return
    where = f"entry {index}" if index is not None else "the entry"
    names = " or ".join(kind.identifiers)
    raise InvalidRequest(
        f"{where} needs {names}",
        details=[{"index": index, "field": names, "message": "an identifier is required"}],
    )


def _identifiers_in_use(
    session: Session, kind: ScopingKind, tenant_id: uuid.UUID, exclude: uuid.UUID | None = None
) -> dict[tuple[str, str], None]:
    columns = [getattr(kind.model, field) for field in kind.identifiers]
    statement = select(*columns).where(kind.model.tenant_id == tenant_id)
    if exclude is not None:
        statement = statement.where(kind.model.id != exclude)
    taken: dict[tuple[str, str], None] = {}
    for row in session.execute(statement):
        for field, value in zip(kind.identifiers, row, strict=True):
            if value is not None:
                taken[(field, str(value))] = None
    return taken


def _refuse_duplicates(
    kind: ScopingKind, entries: list[InputModel], taken: dict[tuple[str, str], None]
) -> None:
    seen = dict(taken)
    for index, entry in enumerate(entries):
        for field in kind.identifiers:
            value = getattr(entry, field)
            if value is None:
                continue
            key = (field, str(value))
            if key in seen:
                raise _duplicate(kind, f"entry {index} repeats {field} {value}", index, field)
            seen[key] = None


def _duplicate(
    kind: ScopingKind, message: str, index: int | None, field: str | None = None
) -> Conflict:
    return Conflict(
        "duplicate_scoping_entry",
        f"{message}: a scoping {kind.noun} identifier may appear once per tenant",
        details={"index": index, "field": field},
    )
