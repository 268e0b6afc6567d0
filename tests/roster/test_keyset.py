"""Keyset paging of roster lists (`after=<sourcedId>`): each page is the next `page_size`
current records whose sourcedId sorts after `after` (bytewise, the lists' order), and its
`next` link continues after the page's last record. A changed_since listing pages by key
too, with a cursor `after=<updated_at>Z,<sourcedId>` naming the last change listed, and its
`next` links always carry it. Their PostgreSQL plans are in test_order.py."""

from datetime import datetime
from itertools import count
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from factories import Caller, delete_records, listed, new_tenant, pages, store_records

USERS = "/v2/interop/data/users"
# In bytewise order; the last ones need escaping in a URL.
IDS = ["A1", "Z", "a b", "a&b=c", "a+b", "a-b", "a/é", "a1", "aB", "a_b", "ab"]


@pytest.fixture
def actor(server: Any, api: httpx.Client) -> Caller:
    """A tenant's actor whose tenant holds the users IDS."""
    _, actor = new_tenant(server, api)
    store_records(server, actor, "users", {sourced_id: {} for sourced_id in reversed(IDS)})
    return actor


def sourced_ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["sourced_id"] for item in items]


def test_an_empty_after_starts_at_the_first_record_and_next_continues_after_the_last(
    api: httpx.Client, actor: Caller
) -> None:
    body = api.get(USERS, params={"after": "", "page_size": 2}, headers=actor.headers).json()

    assert sourced_ids(body["data"]) == ["A1", "Z"]
    assert body["paging"] == {
        "page": 0,
        "page_size": 2,
        "next": f"{USERS}?page=0&page_size=2&after=Z",
        "prev": None,
    }


@pytest.mark.parametrize("page_size", [1, 2, 3])
def test_following_next_from_an_empty_after_lists_every_record_once_in_order(
    api: httpx.Client, actor: Caller, page_size: int
) -> None:
    bodies = pages(api, actor, USERS, after="", page_size=page_size)

    assert sourced_ids([item for body in bodies for item in body["data"]]) == IDS
    for body in bodies[:-1]:  # each continues after its page's last record
        after = urlencode({"after": body["data"][-1]["sourced_id"]})
        assert body["paging"]["next"] == f"{USERS}?page=0&page_size={page_size}&{after}"


def test_a_record_added_before_the_page_does_not_shift_the_next(
    server: Any, api: httpx.Client, actor: Caller
) -> None:
    first = api.get(USERS, params={"after": "", "page_size": 2}, headers=actor.headers).json()
    store_records(server, actor, "users", {"0": {}})

    following = api.get(first["paging"]["next"], headers=actor.headers).json()

    assert sourced_ids(following["data"]) == ["a b", "a&b=c"]


def test_next_repeats_the_other_query_parameters(api: httpx.Client, actor: Caller) -> None:
    params = {"trace": "x y", "after": "a b", "page": 0, "page_size": 1}
    body = api.get(USERS, params=params, headers=actor.headers).json()

    assert sourced_ids(body["data"]) == ["a&b=c"]
    assert body["paging"]["next"] == f"{USERS}?trace=x+y&page=0&page_size=1&after=a%26b%3Dc"


def test_an_after_naming_no_record_lists_the_records_sorting_after_it(
    api: httpx.Client, actor: Caller
) -> None:
    body = api.get(USERS, params={"after": "a0"}, headers=actor.headers).json()

    assert sourced_ids(body["data"]) == ["a1", "aB", "a_b", "ab"]
    assert body["paging"]["next"] is None


def test_a_page_ending_at_the_last_record_has_no_next(api: httpx.Client, actor: Caller) -> None:
    body = api.get(USERS, params={"after": "aB", "page_size": 2}, headers=actor.headers).json()

    assert sourced_ids(body["data"]) == ["a_b", "ab"]
    assert body["paging"]["next"] is None


def test_after_the_last_record_is_an_empty_page(api: httpx.Client, actor: Caller) -> None:
    body = api.get(USERS, params={"after": "ab"}, headers=actor.headers).json()

    assert body["data"] == []
    assert body["paging"]["next"] is None


def test_keyset_pages_hold_only_the_callers_tenant(
    server: Any, api: httpx.Client, actor: Caller
) -> None:
    _, other = new_tenant(server, api, integration="another")
    store_records(server, other, "users", {"A0": {}, "A2": {}})

    assert sourced_ids(listed(api, actor, USERS, after="A0", page_size=4)) == IDS
    assert sourced_ids(listed(api, other, USERS, after="A0")) == ["A2"]


def test_an_after_of_the_column_s_length_is_served(api: httpx.Client, actor: Caller) -> None:
    response = api.get(USERS, params={"after": "A" * 255}, headers=actor.headers)

    assert response.status_code == 200, response.text
    assert sourced_ids(response.json()["data"]) == IDS[1:]


def refusal(response: httpx.Response) -> dict[str, Any]:
    """The error of a 400 invalid_request naming query.after."""
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert [detail["field"] for detail in error["details"]] == ["query.after"]
    return dict(error)


def test_an_after_longer_than_a_sourced_id_is_400(api: httpx.Client, actor: Caller) -> None:
    refusal(api.get(USERS, params={"after": "A" * 256}, headers=actor.headers))


def test_after_with_a_page_other_than_0_is_400(api: httpx.Client, actor: Caller) -> None:
    error = refusal(api.get(USERS, params={"after": "Z", "page": 1}, headers=actor.headers))

    assert "page must be 0" in error["message"]


def test_without_after_pages_are_numbered_as_before(api: httpx.Client, actor: Caller) -> None:
    body = api.get(USERS, params={"page": 1, "page_size": 4}, headers=actor.headers).json()

    assert sourced_ids(body["data"]) == IDS[4:8]
    assert body["paging"]["next"] == f"{USERS}?page=2&page_size=4"
    assert body["paging"]["prev"] == f"{USERS}?page=0&page_size=4"


SINCE = "2000-01-01T00:00:00Z"
# The changes of the `changing` tenant in the order changed_since lists them, (sourcedId,
# status): the users stored at a first time, then at a second, then three deleted at a
# third (one of them from the second time), each time's in bytewise order.
CHANGES = [
    ("A1", "active"),
    ("a b", "active"),
    ("a&b=c", "active"),
    ("a+b", "active"),
    ("a-b", "active"),
    ("a/é", "active"),
    ("a1", "active"),
    ("a_b", "active"),
    ("ab", "active"),
    ("Z", "tobedeleted"),
    ("a,b", "tobedeleted"),
    ("aB", "tobedeleted"),
]


@pytest.fixture
def changing(server: Any, api: httpx.Client) -> Caller:
    """A tenant's actor whose users changed as CHANGES lists (a sourcedId with a comma
    among them, as the cursor separates its time from its sourcedId by one)."""
    _, actor = new_tenant(server, api)
    first = ["A1", "Z", "a b", "a&b=c", "a+b", "a,b", "a-b", "a/é"]
    store_records(server, actor, "users", {sourced_id: {} for sourced_id in first})
    store_records(server, actor, "users", {"a1": {}, "aB": {}, "a_b": {}, "ab": {}})
    delete_records(server, actor, "users", ["Z", "aB", "a,b"])
    return actor


def changes(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(item["sourced_id"], item["status"]) for item in items]


def cursor(item: dict[str, Any]) -> str:
    """The changed_since cursor naming an item's change, as docs/API.md spells it."""
    updated_at = datetime.fromisoformat(item["updated_at"])
    return f"{updated_at:%Y-%m-%dT%H:%M:%S.%f}Z,{item['sourced_id']}"


def changes_page(api: httpx.Client, actor: Caller, **params: Any) -> dict[str, Any]:
    response = api.get(USERS, params={"changed_since": SINCE, **params}, headers=actor.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_next_of_a_changed_since_page_carries_the_cursor_of_its_last_change(
    api: httpx.Client, changing: Caller
) -> None:
    body = changes_page(api, changing, page_size=2)

    assert changes(body["data"]) == CHANGES[:2]
    query = {"changed_since": SINCE, "page": 0, "page_size": 2, "after": cursor(body["data"][1])}
    assert body["paging"] == {
        "page": 0,
        "page_size": 2,
        "next": f"{USERS}?{urlencode(query)}",
        "prev": None,
    }


@pytest.mark.parametrize("page_size", [1, 2, 3, 5])
@pytest.mark.parametrize("start", [{}, {"after": ""}], ids=["numbered", "empty-after"])
def test_following_next_lists_every_change_once_in_change_order(
    server: Any, api: httpx.Client, changing: Caller, page_size: int, start: dict[str, str]
) -> None:
    _, other = new_tenant(server, api, integration="another")
    store_records(server, other, "users", {"A0": {}, "b": {}})

    bodies = pages(api, changing, USERS, changed_since=SINCE, page_size=page_size, **start)

    assert changes([item for body in bodies for item in body["data"]]) == CHANGES
    for body in bodies[:-1]:  # each continues after its page's last change
        assert body["paging"]["next"].endswith(urlencode({"after": cursor(body["data"][-1])}))


def test_numbered_changed_since_pages_list_what_keyset_pages_do(
    api: httpx.Client, changing: Caller
) -> None:
    numbered: list[dict[str, Any]] = []
    for page in count():
        data = changes_page(api, changing, page=page, page_size=5)["data"]
        if not data:
            break
        numbered += data

    keyset = listed(api, changing, USERS, changed_since=SINCE, after="", page_size=5)
    assert changes(numbered) == changes(keyset) == CHANGES


def test_a_numbered_changed_since_page_keeps_its_prev_and_continues_by_key(
    api: httpx.Client, changing: Caller
) -> None:
    body = changes_page(api, changing, page=1, page_size=4)

    assert changes(body["data"]) == CHANGES[4:8]
    previous = urlencode({"changed_since": SINCE, "page": 0, "page_size": 4})
    assert body["paging"]["prev"] == f"{USERS}?{previous}"
    assert body["paging"]["next"].endswith(urlencode({"after": cursor(body["data"][-1])}))
    following = api.get(body["paging"]["next"], headers=changing.headers).json()
    assert changes(following["data"]) == CHANGES[8:]
    assert following["paging"]["prev"] is None


def test_a_record_changed_while_paging_moves_to_the_end_and_skips_no_other(
    server: Any, api: httpx.Client, changing: Caller
) -> None:
    first = changes_page(api, changing, page_size=4)
    delete_records(server, changing, "users", ["a b"])  # listed on the first page

    rest = listed(api, changing, first["paging"]["next"])

    # Numbered, the second page would start a record further on and miss "a-b".
    assert changes(first["data"] + rest) == [*CHANGES, ("a b", "tobedeleted")]


def test_the_later_of_changed_since_and_the_cursor_starts_the_list(
    api: httpx.Client, changing: Caller
) -> None:
    items = changes_page(api, changing)["data"]
    first_time = items[0]["updated_at"]  # that of the first six changes

    from_cursor = changes_page(api, changing, after=cursor(items[6]))
    since_first = changes_page(api, changing, changed_since=first_time, after=cursor(items[0]))

    assert changes(from_cursor["data"]) == CHANGES[7:]
    assert changes(since_first["data"]) == CHANGES[6:]


def test_a_cursor_naming_no_change_lists_the_changes_after_it(
    api: httpx.Client, changing: Caller
) -> None:
    first = changes_page(api, changing, page_size=1)["data"][0]
    between = cursor(first).replace(",A1", ",a.")  # at the first time, before "a/é"

    body = changes_page(api, changing, after=between)

    assert changes(body["data"]) == CHANGES[5:]
    assert body["paging"]["next"] is None


def test_a_cursor_after_the_last_change_is_an_empty_page(
    api: httpx.Client, changing: Caller
) -> None:
    body = changes_page(api, changing, after="9999-12-31T23:59:59.999999Z,")

    assert body["data"] == []
    assert body["paging"]["next"] is None


@pytest.mark.parametrize(
    "after",
    [
        "Z",  # a sourcedId, as a plain list takes
        "2026-01-31T08:00:00Z,Z",  # the time without its microseconds
        "2026-01-31T08:00:00.000000+00:00,Z",  # an offset for the Z
        "2026-01-31T08:00:00.000000Z",  # no sourcedId
        "2026-02-30T08:00:00.000000Z,Z",  # no such day
        "\uff12026-01-31T08:00:00.000000Z,Z",  # a full-width digit
    ],
)
def test_a_malformed_cursor_is_400(api: httpx.Client, changing: Caller, after: str) -> None:
    params = {"changed_since": SINCE, "after": after}
    error = refusal(api.get(USERS, params=params, headers=changing.headers))

    assert "<updated_at in UTC to the microsecond>Z,<sourcedId>" in error["message"]


def test_a_cursor_naming_a_sourced_id_too_long_is_400(api: httpx.Client, changing: Caller) -> None:
    after = "2026-01-31T08:00:00.000000Z," + "A" * 256
    params = {"changed_since": SINCE, "after": after}
    error = refusal(api.get(USERS, params=params, headers=changing.headers))

    assert "at most 283 characters" in error["message"]  # 28 + a sourcedId's 255


def test_a_cursor_with_a_page_other_than_0_is_400(api: httpx.Client, changing: Caller) -> None:
    params = {"changed_since": SINCE, "after": "2026-01-31T08:00:00.000000Z,Z", "page": 1}
    error = refusal(api.get(USERS, params=params, headers=changing.headers))

    assert "page must be 0" in error["message"]
