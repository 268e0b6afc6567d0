"""`GET /data/{topic}/{sourced_id}` for any sourcedId the lists serve: OneRoster ids are
free-form, and the server decodes `%2F` before routing."""

from typing import Any
from urllib.parse import quote

import httpx

from factories import new_tenant, store_records

USERS = "/v2/interop/data/users"
IDS = ["a/b", "/leading", "trailing/", "a//b", "a%2Fb", "a b?c#d", "é/ü"]


def test_every_listed_record_is_found_by_its_percent_encoded_id(
    server: Any, api: httpx.Client
) -> None:
    _, actor = new_tenant(server, api)
    store_records(server, actor, "users", {sourced_id: {} for sourced_id in IDS})
    listed = api.get(USERS, headers=actor.headers).json()["data"]
    assert sorted(item["sourced_id"] for item in listed) == sorted(IDS)
    for sourced_id in IDS:
        found = api.get(f"{USERS}/{quote(sourced_id, safe='')}", headers=actor.headers)
        assert found.status_code == 200, (sourced_id, found.text)
        assert found.json()["data"]["sourced_id"] == sourced_id


def test_a_slash_after_the_topic_still_redirects_to_its_list(
    server: Any, api: httpx.Client
) -> None:
    _, actor = new_tenant(server, api)
    response = api.get(f"{USERS}/", headers=actor.headers)
    assert response.status_code == 307
    assert response.headers["location"].endswith(USERS)
    unknown = api.get(f"{USERS}/{quote('x/y', safe='')}", headers=actor.headers)
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "not_found"
