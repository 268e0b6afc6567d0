"""Clouds: create, list, search, find, delete, and the conventions they show."""

import uuid

import httpx
import pytest

from factories import install, new_account, new_cloud, new_integration

CLOUDS = "/v2/interop/clouds"


def test_create_cloud_returns_it_with_defaults_and_etag(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    response = api.post(CLOUDS, json={"name": "springfield"}, headers=caller.headers)
    assert response.status_code == 200
    cloud = response.json()["data"]
    assert cloud["name"] == "springfield"
    assert cloud["account_id"] == caller.account_id
    assert cloud["generation"] == 1
    assert cloud["userdata"] is None
    assert cloud["version"] == 1
    assert set(cloud["env"]) == {"id", "name"}
    assert uuid.UUID(cloud["id"]).version == 4
    assert cloud["created_at"].endswith("Z")
    assert response.headers["etag"] == '"1"'


def test_duplicate_cloud_name_in_account_is_409(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    new_cloud(api, caller, "springfield")
    response = api.post(CLOUDS, json={"name": "springfield"}, headers=caller.headers)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "cloud_name_taken"


def test_same_cloud_name_in_two_accounts_is_fine(server, api: httpx.Client) -> None:
    new_cloud(api, new_account(server, api, "a"), "springfield")
    new_cloud(api, new_account(server, api, "b"), "springfield")


def test_empty_or_long_name_is_400(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    for name in ["", "x" * 256]:
        response = api.post(CLOUDS, json={"name": name}, headers=caller.headers)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "invalid_request"
        assert response.json()["error"]["details"][0]["field"] == "body.name"


def test_generation_below_one_is_400(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    response = api.post(CLOUDS, json={"name": "x", "generation": 0}, headers=caller.headers)
    assert response.status_code == 400


def test_wrong_type_is_400_not_422(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    response = api.post(CLOUDS, json={"name": 5}, headers=caller.headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


def test_malformed_json_is_400(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    response = api.post(
        CLOUDS, content=b"{not json", headers={**caller.headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


def test_unknown_fields_are_ignored(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    response = api.post(CLOUDS, json={"name": "x", "colour": "blue"}, headers=caller.headers)
    assert response.status_code == 200
    assert "colour" not in response.json()["data"]


def test_malformed_json_is_400_naming_the_body_and_the_place(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    response = api.post(
        CLOUDS, content=b"{bad", headers={**caller.headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    [problem] = error["details"]
    assert problem["field"] == "body"
    # The parser's own reason follows (orjson: "unexpected character, expected a string key").
    assert problem["message"].startswith("invalid JSON at character 1: unexpected character")


@pytest.mark.parametrize(
    ("url", "part"),
    [
        ("/v2/interop/clouds/search?name=a%00b", "query"),
        ("/v2/interop/integrations/00000000-0000-4000-8000-000000000000/versions/a%00b", "path"),
    ],
)
def test_nul_in_the_url_is_400_naming_where(server, api: httpx.Client, url: str, part: str) -> None:
    caller = new_account(server, api)
    response = api.get(url, headers=caller.headers)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["details"] == [{"field": part, "message": "contains U+0000"}]


def test_non_json_content_type_is_415(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    response = api.post(
        CLOUDS, content=b"name=x", headers={**caller.headers, "Content-Type": "text/plain"}
    )
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"
    no_type = api.post(CLOUDS, content=b'{"name": "x"}', headers=caller.headers)
    assert no_type.status_code == 415


def test_a_request_without_a_body_may_carry_any_content_type(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    cloud = api.post(CLOUDS, json={"name": "x"}, headers=caller.headers).json()["data"]
    response = api.delete(
        f"{CLOUDS}/{cloud['id']}", headers={**caller.headers, "Content-Type": "text/plain"}
    )
    assert response.status_code == 204, response.text


def test_body_over_5_mib_is_413(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    body = b'{"name": "' + b"x" * (5 * 1024 * 1024) + b'"}'
    response = api.post(
        CLOUDS, content=body, headers={**caller.headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"


def test_chunked_body_over_5_mib_is_413(server, api: httpx.Client) -> None:
    caller = new_account(server, api)

    def chunks():
        yield b'{"name": "'
        for _ in range(6):
            yield b"x" * (1024 * 1024)
        yield b'"}'

    response = api.post(
        CLOUDS, content=chunks(), headers={**caller.headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 413


def test_get_cloud_and_etag(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    cloud = new_cloud(api, caller)
    response = api.get(f"{CLOUDS}/{cloud['id']}", headers=caller.headers)
    assert response.status_code == 200
    assert response.json()["data"] == cloud
    assert response.headers["etag"] == '"1"'


def test_malformed_id_is_400_unknown_is_404(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    assert api.get(f"{CLOUDS}/not-a-uuid", headers=caller.headers).status_code == 400
    missing = api.get(f"{CLOUDS}/{uuid.uuid4()}", headers=caller.headers)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


def test_search_combines_filters_with_and(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    a = new_cloud(api, caller, "a", generation=2, userdata="north")
    new_cloud(api, caller, "b", generation=2, userdata="south")
    new_cloud(api, caller, "c", generation=1, userdata="north")
    response = api.get(
        f"{CLOUDS}/search", params={"generation": 2, "userdata": "north"}, headers=caller.headers
    )
    assert response.status_code == 200
    assert [cloud["id"] for cloud in response.json()["data"]] == [a["id"]]
    by_name = api.get(f"{CLOUDS}/search", params={"name": "c"}, headers=caller.headers)
    assert [cloud["name"] for cloud in by_name.json()["data"]] == ["c"]


def test_search_bad_generation_is_400(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    response = api.get(f"{CLOUDS}/search", params={"generation": "two"}, headers=caller.headers)
    assert response.status_code == 400


def test_delete_cloud_removes_actors_and_tenants(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    new_integration(api, caller)
    cloud = new_cloud(api, caller)
    actor = install(api, caller, cloud["id"], "gradebook")
    assert api.delete(f"{CLOUDS}/{cloud['id']}", headers=caller.headers).status_code == 204
    assert api.get(f"{CLOUDS}/{cloud['id']}", headers=caller.headers).status_code == 404
    tenant = api.get(f"/v2/interop/tenants/{actor['tenant_id']}", headers=caller.headers)
    assert tenant.status_code == 404
    assert api.get("/v2/interop/actors", headers=caller.headers).json()["data"] == []


def test_delete_with_stale_if_match_is_409_and_keeps_the_cloud(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    cloud = new_cloud(api, caller)
    response = api.delete(f"{CLOUDS}/{cloud['id']}", headers={**caller.headers, "If-Match": '"7"'})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "concurrent_modification"
    assert api.get(f"{CLOUDS}/{cloud['id']}", headers=caller.headers).status_code == 200
    ok = api.delete(f"{CLOUDS}/{cloud['id']}", headers={**caller.headers, "If-Match": '"1"'})
    assert ok.status_code == 204


@pytest.mark.parametrize(
    "if_match",
    [
        ['"7"', '"1"'],  # the header repeated: only the first was read, a 409
        ['"7", W/"1"'],  # one comma-separated list
        ['"7"', '"8", *'],
        ["7, 1"],  # unquoted, as docs/API.md allows
    ],
    ids=["repeated", "comma-separated", "repeated-with-star", "unquoted"],
)
def test_if_match_passes_when_any_listed_etag_matches(
    server, api: httpx.Client, if_match: list[str]
) -> None:
    """RFC 9110 §13.1.1: If-Match is a list, which a client may also split across headers."""
    caller = new_account(server, api)
    cloud = new_cloud(api, caller)
    headers = [*caller.headers.items(), *(("If-Match", value) for value in if_match)]
    response = api.delete(f"{CLOUDS}/{cloud['id']}", headers=headers)
    assert response.status_code == 204, response.text
    assert api.get(f"{CLOUDS}/{cloud['id']}", headers=caller.headers).status_code == 404


def test_if_match_headers_none_of_which_match_are_409(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    cloud = new_cloud(api, caller)
    headers = [*caller.headers.items(), ("If-Match", '"7"'), ("If-Match", '"8", "9"')]
    response = api.delete(f"{CLOUDS}/{cloud['id']}", headers=headers)
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "concurrent_modification"
    assert error["message"].startswith('If-Match "7", "8", "9" does not match')
    assert api.get(f"{CLOUDS}/{cloud['id']}", headers=caller.headers).status_code == 200


@pytest.mark.parametrize(
    "if_match",
    ['"*"', 'W/"*"', '"1', '1"', '""1""', 'W/"1', "W/1", '"1,2"'],
    ids=[
        "quoted-star",
        "weak-quoted-star",
        "open-quote",
        "close-quote",
        "doubled-quotes",
        "weak-open-quote",
        "weak-unquoted",
        "comma-inside-quotes",
    ],
)
def test_quoted_star_or_malformed_if_match_matches_nothing(
    server, api: httpx.Client, if_match: str
) -> None:
    # Quotes were stripped from both ends before the check, so `"*"` (an entity tag, which
    # names no version) counted as the wildcard, and `"1` matched version 1.
    caller = new_account(server, api)
    cloud = new_cloud(api, caller)
    response = api.delete(
        f"{CLOUDS}/{cloud['id']}", headers={**caller.headers, "If-Match": if_match}
    )
    assert response.status_code == 409, response.text
    assert response.json()["error"]["code"] == "concurrent_modification"
    assert api.get(f"{CLOUDS}/{cloud['id']}", headers=caller.headers).status_code == 200


def test_concurrent_creates_of_one_name_yield_one_cloud(server, api: httpx.Client) -> None:
    from concurrent.futures import ThreadPoolExecutor

    caller = new_account(server, api)

    def create(_: int) -> int:
        with httpx.Client(base_url=server.base_url, timeout=60) as client:
            return client.post(CLOUDS, json={"name": "race"}, headers=caller.headers).status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = sorted(pool.map(create, range(10)))
    assert statuses == [200] + [409] * 9
    clouds = api.get(f"{CLOUDS}/search", params={"name": "race"}, headers=caller.headers)
    assert len(clouds.json()["data"]) == 1
