"""Page parameters, the list envelope and its `next`/`prev` links (SPEC §1)."""

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from fastapi import Depends, Query, Request
from pydantic import BeforeValidator
from sqlalchemy import BigInteger, Integer, bindparam, func, select
from sqlalchemy.orm import Session

from interop.config import MAX_PAGE_SIZE
from interop.db import AnySelect, column_rows, prebuilt
from interop.errors import InvalidRequest

T = TypeVar("T")
_DECIMAL = re.compile(r"-?[0-9]+")


def _decimal_text(value: Any) -> Any:
    """A query integer is written in decimal digits: Python's int() (and so pydantic) also
    reads "1_0" as 10, and "7.0" as 7 for a float field, which no client means."""
    if isinstance(value, str) and not _DECIMAL.fullmatch(value):
        raise ValueError("expected an integer written in decimal digits")
    return value


# Placed after a parameter's Query(...): before it, FastAPI would publish its bounds as "ge"
# and "le" instead of JSON Schema's "minimum" and "maximum".
DECIMAL_ONLY = BeforeValidator(_decimal_text)


@dataclass(frozen=True, slots=True)
class PageParams:
    page: int
    page_size: int
    request: Request

    @property
    def offset(self) -> int:
        return self.page * self.page_size


# Far past any real list, and small enough that page * page_size fits a 64-bit OFFSET.
MAX_PAGE = 1_000_000_000


async def page_params(  # async: no I/O, so no worker-thread round trip
    request: Request,
    page: Annotated[
        int,
        Query(ge=0, le=MAX_PAGE, description="Specify the page number (defaults to 0)"),
        DECIMAL_ONLY,
    ] = 0,
    page_size: Annotated[
        int,
        Query(ge=1, description="Specify the page_size (defaults to the maximum page size, 1000)"),
        DECIMAL_ONLY,
    ] = MAX_PAGE_SIZE,
) -> PageParams:
    limit = min(request.app.state.settings.max_page_size, MAX_PAGE_SIZE)
    return PageParams(page=page, page_size=min(page_size, limit), request=request)


PageDep = Annotated[PageParams, Depends(page_params)]


def fetch_page(
    session: Session, statement: AnySelect, params: PageParams
) -> tuple[list[Any], bool]:
    """Rows of one page of an ordered statement, and whether another page follows."""
    rows = list(session.execute(statement.limit(params.page_size + 1).offset(params.offset)).all())
    return _split_page(rows, params)


def _split_page(rows: list[Any], params: PageParams) -> tuple[list[Any], bool]:
    """(the page's rows, whether another page follows) from a page fetched one row long."""
    return rows[: params.page_size], len(rows) > params.page_size


def page_envelope(items: Sequence[T], params: PageParams, has_next: bool) -> dict[str, Any]:
    following = _link(params, params.page + 1) if has_next else None
    return _envelope(items, params, following, _previous(params))


def _envelope(
    items: Sequence[T], params: PageParams, following: str | None, previous: str | None
) -> dict[str, Any]:
    return {
        "data": list(items),
        "paging": {
            "page": params.page,
            "page_size": params.page_size,
            "next": following,
            "prev": previous,
        },
    }


def paginate(
    session: Session,
    statement: AnySelect,
    params: PageParams,
    to_item: Callable[[Any], T],
) -> dict[str, Any]:
    rows, has_next = fetch_page(session, statement, params)
    return page_envelope([to_item(row) for row in rows], params, has_next)


def paginate_after(
    session: Session,
    statement: AnySelect,
    params: PageParams,
    to_item: Callable[[Any], T],
    key: Callable[[Any], str],
    numbered: bool = False,
) -> dict[str, Any]:
    """`paginate` by keyset (`after=`): `statement` holds only the rows whose key sorts after
    the request's `after`, in key order, and the page is its first `page_size` rows; `next`
    continues after the last of them (`key` of its row) and there is no `prev`. An index
    range scan reads about `page_size` rows wherever the page lies, where an OFFSET reads and
    discards every row before it: the last of 200 pages of roster users took 170-250 ms on
    PostgreSQL, page 0 3-8 ms. `numbered`: the request named no `after` but a page of a list
    whose `next` continues by key all the same; it keeps its numbered `prev`."""
    if params.page != 0 and not numbered:
        raise InvalidRequest(
            f"after= starts the page at a key, so page must be 0 (or left out), got {params.page}",
            details=[{"field": "query.after", "message": "not with a page other than 0"}],
        )
    rows, has_next = fetch_page(session, statement, params)
    following = _link(params, 0, after=key(rows[-1])) if has_next else None
    return _envelope([to_item(row) for row in rows], params, following, _previous(params))


def paginate_by_key(
    session: Session,
    keys: AnySelect,
    rows: AnySelect,
    params: PageParams,
    to_item: Callable[[Any], T],
) -> dict[str, Any]:
    """`paginate` for wide joined rows: find the page's keys with `keys` (an ordered statement
    selecting the key from the filtered table alone), then load just those rows with `rows`
    (made by `by_page_keys`: the joined statement of plain columns, in the same order).
    PostgreSQL otherwise joined and sorted every row to reach a far page: page 99 of 10,000
    tenants spilled a 7.6 MB sort to disk, and later still spent 17 ms joining 10,000
    tenants to five tables to throw 9,900 of them away."""
    found, has_next = fetch_page(session, keys, params)
    wanted = [row[0] for row in found]
    page_rows = column_rows(session, rows, {_PAGE_KEYS: wanted}) if wanted else []
    return page_envelope([to_item(row) for row in page_rows], params, has_next)


# The bound parameter `by_page_keys` leaves for the keys of a page.
_PAGE_KEYS = "page_keys"


def by_page_keys(statement: AnySelect, key: Any) -> AnySelect:
    """`statement` restricted to the keys of one page, left as a bound parameter for
    `paginate_by_key`: build it once, at import, for the reason `paged` gives. A tenants page
    built its 30-column join and a 100-key IN afresh for every request (page 0 of 300
    tenants in-process on SQLite, 8 at once: 5.4-5.7 -> 4.5-4.9 ms)."""
    return statement.where(key.in_(bindparam(_PAGE_KEYS, expanding=True)))


# The bound parameters `paged` leaves in a statement for its page.
_PAGE_LIMIT, _PAGE_OFFSET = "page_limit", "page_offset"


def paged(statement: AnySelect) -> AnySelect:
    """An ordered select of plain columns with its page's LIMIT and OFFSET left as bound
    parameters: build it once, at import, and run it with `paginate_prebuilt`.

    SQLAlchemy finds a statement's compiled form by a cache key it computes by walking the
    whole statement, and it computes it again for every statement built afresh; a prebuilt
    statement keeps its key. An actor's schedules list, in-process on SQLite: building,
    running and reading the page 224 -> 61 µs a request, of about 720."""
    limit = bindparam(_PAGE_LIMIT, type_=Integer)
    # BIGINT: the last page allowed (MAX_PAGE) is 10^12 rows in, past PostgreSQL's INTEGER.
    return prebuilt(statement.limit(limit).offset(bindparam(_PAGE_OFFSET, type_=BigInteger)))


def paginate_prebuilt(
    session: Session,
    statement: AnySelect,
    params: PageParams,
    to_item: Callable[[Any], T],
    **values: Any,
) -> dict[str, Any]:
    """`paginate` for a statement made by `paged`, with `values` for its own parameters."""
    page = {_PAGE_LIMIT: params.page_size + 1, _PAGE_OFFSET: params.offset}
    rows, has_next = _split_page(column_rows(session, statement, {**values, **page}), params)
    return page_envelope([to_item(row) for row in rows], params, has_next)


def count(session: Session, statement: AnySelect) -> int:
    total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    return int(total or 0)


def _previous(params: PageParams) -> str | None:
    """The numbered page before this one; none before page 0, nor for a page by key."""
    return _link(params, params.page - 1) if params.page > 0 else None


def _link(params: PageParams, page: int, after: str | None = None) -> str:
    """A relative URL repeating every filter of the request, with page/page_size set (and
    `after`, for a keyset page)."""
    replaced = ("page", "page_size") if after is None else ("page", "page_size", "after")
    query = [
        (key, value)
        for key, value in params.request.query_params.multi_items()
        if key not in replaced
    ]
    query += [("page", str(page)), ("page_size", str(params.page_size))]
    if after is not None:
        query.append(("after", after))
    return f"{params.request.url.path}?{urlencode(query)}"
