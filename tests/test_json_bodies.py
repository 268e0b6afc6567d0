"""JSON request bodies are parsed as strictly as JSON is written: what json.loads let through
(a lone UTF-16 surrogate, NaN, Infinity) is `400 invalid_request` on field `body`, and nothing
is stored. A stored lone surrogate made every later read of the object a 500. So is a body
nesting arrays and objects deeper than 64 levels: one past about 255 was stored and every
later read of it was a 500 (pydantic cannot serialise it), or the write itself was."""

import httpx
import orjson
import pytest

from factories import new_account, new_tenant

API = "/v2/interop"
MAX_JSON_DEPTH = 64


def _post(api: httpx.Client, url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return api.post(url, content=body, headers={**headers, "Content-Type": "application/json"})


def _assert_invalid_json(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["details"][0]["field"] == "body"
    assert error["details"][0]["message"].startswith("invalid JSON at character")


def _rollover(actor, metadata: bytes, status: bytes = b"scheduled") -> bytes:
    return (
        b'{"name": "summer", "start_date": "2027-06-01T00:00:00Z", '
        b'"end_date": "2027-08-01T00:00:00Z", "type": "retain_deletes", '
        b'"status": "' + status + b'", "cloud_id": "' + actor.extra["cloud_id"].encode() + b'", '
        b'"metadata": ' + metadata + b"}"
    )


def _nested(levels: int) -> bytes:
    """An object holding arrays: `levels` levels of nesting in all."""
    return b'{"a": ' + b"[" * (levels - 1) + b"]" * (levels - 1) + b"}"


@pytest.mark.parametrize("value", [b'"\\ud800"', b'"a\\udc00b"', b"NaN", b"-Infinity"])
def test_rollover_metadata_that_is_not_strict_json_is_400(
    server, api: httpx.Client, value: bytes
) -> None:
    _, actor = new_tenant(server, api)
    body = (
        b'{"name": "summer", "start_date": "2027-06-01T00:00:00Z", '
        b'"end_date": "2027-08-01T00:00:00Z", "type": "retain_deletes", '
        b'"status": "scheduled", "cloud_id": "' + actor.extra["cloud_id"].encode() + b'", '
        b'"metadata": {"note": ' + value + b"}}"
    )
    _assert_invalid_json(_post(api, f"{API}/tenant/rollovers", body, actor.headers))
    listed = api.get(f"{API}/tenant/rollovers", headers=actor.headers)
    assert listed.status_code == 200
    assert listed.json()["data"] == []


def test_a_lone_surrogate_key_is_400(server, api: httpx.Client) -> None:
    owner = new_account(server, api)
    body = b'{"name": "north", "\\udc00": 1}'
    _assert_invalid_json(_post(api, f"{API}/clouds", body, owner.headers))
    assert api.get(f"{API}/clouds", headers=owner.headers).json()["data"] == []


def _assert_too_deep(response: httpx.Response) -> None:
    _assert_invalid_json(response)
    message = response.json()["error"]["details"][0]["message"]
    assert message.endswith(f"nest deeper than {MAX_JSON_DEPTH} levels"), message


@pytest.mark.parametrize("levels", [MAX_JSON_DEPTH, 300, 1000])
def test_a_rollover_nested_too_deep_is_400_and_not_stored(
    server, api: httpx.Client, levels: int
) -> None:
    _, actor = new_tenant(server, api)
    # The body's own object is the first level, so its metadata may nest one level fewer.
    response = _post(
        api, f"{API}/tenant/rollovers", _rollover(actor, _nested(levels)), actor.headers
    )
    _assert_too_deep(response)
    assert api.get(f"{API}/tenant/rollovers", headers=actor.headers).json()["data"] == []


def test_the_error_names_where_the_level_past_the_limit_opens(server, api: httpx.Client) -> None:
    owner = new_account(server, api)
    # Brackets inside strings are text, not nesting.
    before = rb'{"name": "[{\"[", "x": '
    body = before + b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH + b"}"
    response = _post(api, f"{API}/clouds", body, owner.headers)
    _assert_too_deep(response)
    opened = len(before) + MAX_JSON_DEPTH - 1
    assert response.json()["error"]["details"][0]["message"].startswith(
        f"invalid JSON at character {opened}:"
    )
    assert api.get(f"{API}/clouds", headers=owner.headers).json()["data"] == []


def test_a_rollover_nested_to_the_limit_is_stored_and_read_back(server, api: httpx.Client) -> None:
    _, actor = new_tenant(server, api)
    metadata = _nested(MAX_JSON_DEPTH - 1)
    created = _post(api, f"{API}/tenant/rollovers", _rollover(actor, metadata), actor.headers)
    assert created.status_code == 200, created.text
    read = api.get(f"{API}/tenant/rollovers/{created.json()['data']['id']}", headers=actor.headers)
    assert read.status_code == 200
    assert read.json()["data"]["metadata"] == orjson.loads(metadata)


def test_a_rollover_put_nested_too_deep_is_400_and_changes_nothing(
    server, api: httpx.Client
) -> None:
    _, actor = new_tenant(server, api)
    created = _post(api, f"{API}/tenant/rollovers", _rollover(actor, b"{}"), actor.headers)
    assert created.status_code == 200, created.text
    url = f"{API}/tenant/rollovers/{created.json()['data']['id']}"
    body = _rollover(actor, _nested(300), status=b"cancelled")
    response = api.put(
        url, content=body, headers={**actor.headers, "Content-Type": "application/json"}
    )
    _assert_too_deep(response)
    assert api.get(url, headers=actor.headers).json()["data"] == created.json()["data"]


@pytest.mark.parametrize(
    ("attributes", "too_deep"),
    [(b'{"k": "\\ud800"}', False), (_nested(300), True)],
    ids=["lone-surrogate", "nested-300"],
)
def test_the_tenant_application_cannot_be_given_unstorable_attributes(
    server, api: httpx.Client, attributes: bytes, too_deep: bool
) -> None:
    # Before, the PATCH stored either (204) and every read of the application was a 500.
    owner, actor = new_tenant(server, api)
    opened = api.post(
        f"{API}/tenants/{actor.extra['tenant_id']}/application/auth-session",
        headers=owner.headers,
    )
    assert opened.status_code == 200
    patched = api.patch(
        f"{API}/tenant/application",
        content=b'{"auth_attributes_pending": ' + attributes + b"}",
        headers={**actor.headers, "Content-Type": "application/json"},
    )
    (_assert_too_deep if too_deep else _assert_invalid_json)(patched)
    read = api.get(f"{API}/tenant/application", headers=actor.headers)
    assert read.status_code == 200
    assert read.json()["data"]["auth_attributes_pending"] is None
