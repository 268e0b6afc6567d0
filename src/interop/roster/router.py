"""(ext) HTTP for the integration's driver: its tenant's roster, paged, with deltas."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.convertors import Convertor, register_url_convertor

from interop.deps import ActorPrincipal, SessionDep
from interop.openapi import error_responses
from interop.paging import PageDep, paginate, paginate_after
from interop.roster.repository import (
    CHANGE_CURSOR_LENGTH,
    change_cursor,
    get_record,
    record_out,
    tenant_records,
)
from interop.roster.schemas import TOPIC_MODELS, RosterItem
from interop.routing import ScanningRoute
from interop.schemas import DataEnvelope, JsonDateTime, ListEnvelope
from interop.tenants.repository import own_tenant_id


class SourcedIdConvertor(Convertor[str]):
    """A sourcedId in a path: any characters, slashes included (OneRoster ids are free-form,
    and the server decodes `%2F` before routing), but at least one, so that
    `/data/{topic}/` still redirects to the list instead of asking for an empty id."""

    regex = ".+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("sourced_id", SourcedIdConvertor())

router = APIRouter(tags=["Roster data (ext)"], route_class=ScanningRoute)
ChangedSince = Annotated[
    JsonDateTime | None,
    Query(
        description=(
            "RFC 3339 time: only records changed after it, deletions included "
            "(`status: tobedeleted`), oldest change first; `next` continues by key "
            "(`after`, a cursor). For the next delta, the latest `updated_at` read once "
            "`next` is null, not a time of your own (changes are stamped before they commit)"
        )
    ),
]
After = Annotated[
    str | None,
    Query(
        max_length=CHANGE_CURSOR_LENGTH,
        description=(
            "Keyset paging: the current records whose sourcedId (at most 255 characters) "
            "sorts after this one (bytewise), which need not exist; empty for the first page. "
            "With `changed_since`, the changes listed after the one a cursor names "
            "(`<updated_at>Z,<sourcedId>`, as `next` carries it). `next` then carries "
            "`after`, `prev` is null. Not with `page` other than 0"
        ),
    ),
]


def _add_routes(topic: str, model: type[RosterItem]) -> None:
    title = topic.replace("_", " ")

    @router.get(
        f"/data/{topic}",
        summary=f"List {title}",
        description=f"The tenant's {title}, as its latest collection left them, in scope.",
        response_model=ListEnvelope[model],  # type: ignore[valid-type]
        responses=error_responses("not_found"),
        name=f"list_{topic}",
    )
    def list_records(
        session: SessionDep,
        principal: ActorPrincipal,
        page: PageDep,
        changed_since: ChangedSince = None,
        after: After = None,
    ) -> Any:
        since: datetime | None = changed_since
        statement = tenant_records(topic, own_tenant_id(principal), since, after)
        if since is not None:
            # Numbered next links skipped a record whenever one listed before it changed
            # during a sync (moving to the end); by key, none is skipped.
            numbered = after is None
            envelope = paginate_after(session, statement, page, _item, _change_cursor, numbered)
        elif after is None:
            envelope = paginate(session, statement, page, _item)
        else:
            envelope = paginate_after(session, statement, page, _item, _sourced_id)
        envelope["data"] = model.served(envelope["data"])
        return envelope

    @router.get(
        f"/data/{topic}/{{sourced_id:sourced_id}}",
        summary=f"Find one of the {title} by sourcedId",
        response_model=DataEnvelope[model],  # type: ignore[valid-type]
        responses=error_responses("not_found"),
        name=f"get_{topic}",
    )
    def get_one(sourced_id: str, session: SessionDep, principal: ActorPrincipal) -> Any:
        record = get_record(session, topic, own_tenant_id(principal), sourced_id)
        return {"data": model.served([record_out(record)])[0]}


def _item(row: Any) -> dict[str, Any]:
    return record_out(row[0])


def _sourced_id(row: Any) -> str:
    return str(row[0].sourced_id)


def _change_cursor(row: Any) -> str:
    return change_cursor(row[0])


for _topic, _model in TOPIC_MODELS.items():
    _add_routes(_topic, _model)
