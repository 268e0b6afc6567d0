"""JSON request bodies are parsed as strictly as JSON is written: what json.loads let through
(a lone UTF-16 surrogate, NaN, Infinity) is `400 invalid_request` on field `body`, and nothing
is stored. A stored lone surrogate made every later read of the object a 500."""

import httpx
import pytest

from factories import new_account, new_tenant

API = "/v2/interop"


def _post(api: httpx.Client, url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return api.post(url, content=body, headers={**headers, "Content-Type": "application/json"})


def _assert_invalid_json(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["details"][0]["field"] == "body"
    assert error["details"][0]["message"].startswith("invalid JSON at character")


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


def test_the_tenant_application_cannot_be_given_a_lone_surrogate(server, api: httpx.Client) -> None:
    owner, actor = new_tenant(server, api)
    opened = api.post(
        f"{API}/tenants/{actor.extra['tenant_id']}/application/auth-session",
        headers=owner.headers,
    )
    assert opened.status_code == 200
    body = b'{"auth_attributes_pending": {"k": "\\ud800"}}'
    _assert_invalid_json(
        api.patch(
            f"{API}/tenant/application",
            content=body,
            headers={**actor.headers, "Content-Type": "application/json"},
        )
    )
    # Before, the PATCH stored it and every read of the application was a 500.
    read = api.get(f"{API}/tenant/application", headers=actor.headers)
    assert read.status_code == 200
    assert read.json()["data"]["auth_attributes_pending"] is None
