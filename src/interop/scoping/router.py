"""HTTP for a tenant's scoping schools and courses: one set of routes, built per kind."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from interop.concurrency import IfMatch, etag
from interop.deps import ActorPrincipal, SessionDep
from interop.openapi import error_responses
from interop.paging import PageDep, paginate
from interop.routing import InteropRoute
from interop.schemas import DataEnvelope, HyphenatedUUID, ListEnvelope
from interop.scoping import schemas, service
from interop.scoping.service import COURSES, SCHOOLS, ScopingKind

router = APIRouter(tags=["Scoping"], route_class=InteropRoute)
Replace = Annotated[
    bool,
    Query(description="true to replace existing entries, false to append to them"),
]


def _add_routes(
    kind: ScopingKind,
    plural: str,
    entry_in: type[schemas.ScopingSchoolIn],
    batch_in: type[schemas.ScopingSchoolsIn] | type[schemas.ScopingCoursesIn],
    out: type[schemas.ScopingSchool],
) -> None:
    title, collection = kind.noun.title(), f"/tenant/scoping/{plural}"

    @router.get(
        collection,
        summary=f"List Scoping {title}s",
        response_model=ListEnvelope[out],  # type: ignore[valid-type]
        responses=error_responses("not_found"),
        name=f"list_scoping_{plural}",
    )
    def list_entries(session: SessionDep, principal: ActorPrincipal, page: PageDep) -> Any:
        statement = service.tenant_entries(kind, principal)
        return paginate(session, statement, page, lambda row: out.model_validate(row[0]))

    @router.post(
        collection,
        summary=f"Create Scoping {title}s",
        description="All or nothing: one bad or duplicate entry leaves the set as it was.",
        response_model=DataEnvelope[list[out]],  # type: ignore[valid-type]
        responses=error_responses("not_found", "duplicate_scoping_entry"),
        name=f"create_scoping_{plural}",
    )
    def create_entries(
        body: batch_in,  # type: ignore[valid-type]
        session: SessionDep,
        principal: ActorPrincipal,
        replace: Replace = True,
    ) -> Any:
        entries = list(body.data)  # type: ignore[attr-defined]
        return {"data": service.create_entries(session, kind, principal, entries, replace)}

    @router.delete(
        collection,
        summary=f"Delete Scoping {title}s",
        status_code=204,
        response_class=Response,
        responses=error_responses("not_found"),
        name=f"delete_scoping_{plural}",
    )
    def delete_entries(session: SessionDep, principal: ActorPrincipal) -> None:
        service.delete_all(session, kind, principal)

    @router.get(
        f"{collection}/{{id}}",
        summary=f"Find Scoping {title}",
        response_model=DataEnvelope[out],  # type: ignore[valid-type]
        responses=error_responses("not_found"),
        name=f"get_scoping_{kind.noun}",
    )
    def get_entry(
        id: HyphenatedUUID, session: SessionDep, principal: ActorPrincipal, response: Response
    ) -> Any:
        entry = service.get_entry(session, kind, principal, id)
        response.headers["ETag"] = etag(entry.version)
        return {"data": out.model_validate(entry)}

    @router.put(
        f"{collection}/{{id}}",
        summary=f"Update Scoping {title}",
        response_model=DataEnvelope[out],  # type: ignore[valid-type]
        responses=error_responses(
            "not_found", "read_only_field", "duplicate_scoping_entry", "concurrent_modification"
        ),
        name=f"update_scoping_{kind.noun}",
    )
    def put_entry(
        id: HyphenatedUUID,
        body: entry_in,  # type: ignore[valid-type]
        session: SessionDep,
        principal: ActorPrincipal,
        response: Response,
        if_match: IfMatch = None,
    ) -> Any:
        entry = service.replace_entry(session, kind, principal, id, body, if_match)
        response.headers["ETag"] = etag(entry.version)
        return {"data": out.model_validate(entry)}

    @router.delete(
        f"{collection}/{{id}}",
        summary=f"Delete Scoping {title}",
        status_code=204,
        response_class=Response,
        responses=error_responses("not_found", "concurrent_modification"),
        name=f"delete_scoping_{kind.noun}",
    )
    def delete_entry(
        id: HyphenatedUUID, session: SessionDep, principal: ActorPrincipal, if_match: IfMatch = None
    ) -> None:
        service.delete_entry(session, kind, principal, id, if_match)


_add_routes(
    SCHOOLS, "schools", schemas.ScopingSchoolIn, schemas.ScopingSchoolsIn, schemas.ScopingSchool
)
_add_routes(
    COURSES, "courses", schemas.ScopingCourseIn, schemas.ScopingCoursesIn, schemas.ScopingCourse
)
