"""Ids are UUIDs written 8-4-4-4-12 (SPEC §1), in paths, queries and bodies alike; any other
spelling is `400 invalid_request` naming the parameter. Before, every router took FastAPI's
`uuid.UUID`, which also reads `{…}`, `urn:uuid:…` and 32 hex digits without hyphens, so
`GET /clouds/{<id>}` answered 200."""

import re
import uuid
from typing import Any

import httpx
import pytest

from factories import Caller, new_account, new_cloud, new_tenant

API = "/v2/interop"
OTHER_SPELLINGS = {
    "braces": "{{{}}}",
    "urn": "urn:uuid:{}",
    "no-hyphens": "{}",  # the hyphens taken out below
    "hyphens-moved": "{}",  # 8-4-4-4-12 regrouped below
    "trailing-newline": "{}%0A",  # a line feed
}


def spelled(kind: str, id: str) -> str:
    if kind == "no-hyphens":
        return id.replace("-", "")
    if kind == "hyphens-moved":
        digits = id.replace("-", "")
        return f"{digits[:4]}-{digits[4:8]}-{digits[8:20]}-{digits[20:]}"
    return OTHER_SPELLINGS[kind].format(id)


@pytest.mark.parametrize("kind", OTHER_SPELLINGS)
def test_a_cloud_id_spelled_otherwise_is_400_naming_the_parameter(
    server, api: httpx.Client, kind: str
) -> None:
    caller = new_account(server, api)
    cloud = new_cloud(api, caller)
    response = api.get(f"{API}/clouds/{spelled(kind, cloud['id'])}", headers=caller.headers)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert [detail["field"] for detail in error["details"]] == ["path.id"]
    assert error["message"].startswith("invalid request: path.id: ")


def test_a_cloud_id_in_upper_case_is_the_same_cloud(server, api: httpx.Client) -> None:
    """RFC 9562 §4: hex digits of either case spell the same UUID."""
    caller = new_account(server, api)
    cloud = new_cloud(api, caller)
    response = api.get(f"{API}/clouds/{cloud['id'].upper()}", headers=caller.headers)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["id"] == cloud["id"]


def test_every_uuid_parameter_refuses_another_spelling(server, api: httpx.Client) -> None:
    """Each operation of the OpenAPI document with a UUID path or query parameter: a braced
    id there is 400 naming it, before any lookup (404) or write."""
    owner, actor = new_tenant(server, api)
    document = api.get("/openapi.json").json()
    checked = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            ids = _uuid_parameters(operation)
            if not ids:
                continue
            caller = actor if path.startswith(f"{API}/tenant/") else owner
            response = _with_braced_ids(api, caller, method, path, operation)
            assert response.status_code == 400, (method, path, response.text)
            fields = [d["field"] for d in response.json()["error"]["details"] or []]
            assert all(f"{p['in']}.{p['name']}" in fields for p in ids), response.text
            checked.append((method, path))
    assert len(checked) >= 30  # every router's operations, not a few


def _uuid_parameters(operation: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in operation.get("parameters", []) if "uuid" in str(p["schema"])]


def _with_braced_ids(
    api: httpx.Client, caller: Caller, method: str, path: str, operation: dict[str, Any]
) -> httpx.Response:
    """The operation called with a braced UUID in each of its UUID parameters (any other
    path parameter `1`), and a body of a type it takes: a blueprint route reads its body
    before the parameters are checked, so a body of another type would be 415 first."""
    braced = "{" + str(uuid.uuid4()) + "}"
    ids = _uuid_parameters(operation)
    in_path = {p["name"] for p in ids if p["in"] == "path"}
    url = re.sub(r"\{(\w+)\}", lambda m: braced if m[1] in in_path else "1", path)
    query = {p["name"]: braced for p in ids if p["in"] == "query"}
    body_types = operation.get("requestBody", {}).get("content", {})
    if "text/plain" in body_types:
        body = {"content": "<IntegrationBlueprint/>", "headers": {"Content-Type": "text/plain"}}
    else:
        body = {"json": {}} if body_types else {}
    headers = {**caller.headers, **body.pop("headers", {})}
    return api.request(method.upper(), url, params=query, headers=headers, **body)


def test_a_uuid_query_filter_spelled_otherwise_is_400(server, api: httpx.Client) -> None:
    owner, actor = new_tenant(server, api)
    tenant_id = actor.extra["tenant_id"].replace("-", "")
    for path, field in [("/ingestions", "tenant_id"), ("/tenants", "accounts")]:
        value = tenant_id if field == "tenant_id" else owner.account_id.replace("-", "")
        response = api.get(f"{API}{path}", params={field: value}, headers=owner.headers)
        assert response.status_code == 400, (path, response.text)
        assert response.json()["error"]["details"][0]["field"] == f"query.{field}"


def test_a_uuid_in_a_body_spelled_otherwise_is_400(server, api: httpx.Client) -> None:
    owner = new_account(server, api)
    body = {"name": "north", "account_id": "{" + owner.account_id + "}"}
    response = api.post(f"{API}/clouds", json=body, headers=owner.headers)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["details"][0]["field"] == "body.account_id"
    body["account_id"] = owner.account_id.upper()
    assert api.post(f"{API}/clouds", json=body, headers=owner.headers).status_code == 200


def test_the_published_schema_says_what_an_id_looks_like(server, api: httpx.Client) -> None:
    document = api.get("/openapi.json").json()
    (parameter,) = document["paths"][f"{API}/clouds/{{id}}"]["get"]["parameters"]
    assert parameter["schema"]["format"] == "uuid"
    id = str(uuid.uuid4())
    assert re.search(parameter["schema"]["pattern"], id)
    assert re.search(parameter["schema"]["pattern"], id.upper())
    # Python's `$` also matches before a final newline, which the document's (ECMA) does not.
    others = [spelled(kind, id) for kind in OTHER_SPELLINGS if kind != "trailing-newline"]
    assert not any(re.search(parameter["schema"]["pattern"], other) for other in others)
