"""Keyset paging of roster lists (`after=<sourcedId>`): each page is the next `page_size`
current records whose sourcedId sorts after `after` (bytewise, the lists' order), and its
`next` link continues after the page's last record. Its PostgreSQL plan is in test_order.py."""

from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from factories import Caller, listed, new_tenant, store_records

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
    items: list[dict[str, Any]] = []
    following: str | None = f"{USERS}?after=&page_size={page_size}"
    while following is not None:
        body = api.get(following, headers=actor.headers).json()
        items += body["data"]
        following = body["paging"]["next"]
        if following is not None:  # it continues after the page's last record
            after = urlencode({"after": items[-1]["sourced_id"]})
            assert following == f"{USERS}?page=0&page_size={page_size}&{after}"

    assert sourced_ids(items) == IDS


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


def test_after_with_changed_since_is_400(api: httpx.Client, actor: Caller) -> None:
    params = {"after": "Z", "changed_since": "2000-01-01T00:00:00Z"}
    error = refusal(api.get(USERS, params=params, headers=actor.headers))

    assert "ordered by change time" in error["message"]


def test_without_after_pages_are_numbered_as_before(api: httpx.Client, actor: Caller) -> None:
    body = api.get(USERS, params={"page": 1, "page_size": 4}, headers=actor.headers).json()

    assert sourced_ids(body["data"]) == IDS[4:8]
    assert body["paging"]["next"] == f"{USERS}?page=2&page_size=4"
    assert body["paging"]["prev"] == f"{USERS}?page=0&page_size=4"
