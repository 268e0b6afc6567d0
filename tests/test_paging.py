"""Paging (SPEC §1): 0-based pages, clamped sizes, next/prev links that keep the filters."""

import httpx
import pytest

from factories import new_account, new_cloud, new_tenant
from interop.paging import MAX_PAGE

CLOUDS = "/v2/interop/clouds"


def test_pages_walk_in_creation_order_with_links(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    names = [f"c{i}" for i in range(5)]
    for name in names:
        new_cloud(api, caller, name)
    first = api.get(CLOUDS, params={"page_size": 2}, headers=caller.headers).json()
    assert [cloud["name"] for cloud in first["data"]] == ["c0", "c1"]
    assert first["paging"] == {
        "page": 0,
        "page_size": 2,
        "next": f"{CLOUDS}?page=1&page_size=2",
        "prev": None,
    }
    second = api.get(first["paging"]["next"], headers=caller.headers).json()
    assert [cloud["name"] for cloud in second["data"]] == ["c2", "c3"]
    assert second["paging"]["prev"] == f"{CLOUDS}?page=0&page_size=2"
    last = api.get(second["paging"]["next"], headers=caller.headers).json()
    assert [cloud["name"] for cloud in last["data"]] == ["c4"]
    assert last["paging"]["next"] is None


def test_links_repeat_every_filter(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    for name in ["a", "b", "c"]:
        new_cloud(api, caller, name, generation=3)
    body = api.get(
        f"{CLOUDS}/search", params={"generation": 3, "page_size": 1}, headers=caller.headers
    ).json()
    assert body["paging"]["next"] == f"{CLOUDS}/search?generation=3&page=1&page_size=1"
    following = api.get(body["paging"]["next"], headers=caller.headers).json()
    assert [cloud["name"] for cloud in following["data"]] == ["b"]


def test_default_page_size_is_1000(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    paging = api.get(CLOUDS, headers=caller.headers).json()["paging"]
    assert paging == {"page": 0, "page_size": 1000, "next": None, "prev": None}


def test_large_page_size_is_clamped_to_1000(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    paging = api.get(CLOUDS, params={"page_size": 5000}, headers=caller.headers).json()["paging"]
    assert paging["page_size"] == 1000


@pytest.mark.parametrize(
    "params",
    [
        {"page": -1},
        {"page_size": 0},
        {"page": "x"},
        {"page_size": "1.5"},
        {"page": "1_0"},  # int() reads it as 10
        {"page_size": " 5"},
        {"page": "1e1"},
    ],
)
def test_bad_paging_parameters_are_400(server, api: httpx.Client, params) -> None:
    caller = new_account(server, api)
    response = api.get(CLOUDS, params=params, headers=caller.headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


def test_page_past_the_end_is_empty_with_prev(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    new_cloud(api, caller)
    body = api.get(CLOUDS, params={"page": 3, "page_size": 10}, headers=caller.headers).json()
    assert body["data"] == []
    assert body["paging"]["next"] is None
    assert body["paging"]["prev"] == f"{CLOUDS}?page=2&page_size=10"


@pytest.mark.parametrize("path", [CLOUDS, "/v2/interop/tenant/schedules"])
def test_the_last_allowed_page_is_an_empty_page(server, api: httpx.Client, path) -> None:
    """Its OFFSET (page x page_size) is past a 32-bit integer: PostgreSQL refused it as the
    INTEGER SQLAlchemy binds by default, and the request came back a 400."""
    caller = new_account(server, api) if path == CLOUDS else new_tenant(server, api)[1]
    for page in (2_147_484, MAX_PAGE):
        response = api.get(path, params={"page": page}, headers=caller.headers)
        assert response.status_code == 200, response.text
        assert response.json()["data"] == []
        assert response.json()["paging"]["next"] is None
