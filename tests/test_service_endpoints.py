"""Service endpoints, the framework's and the HTTP server's own errors in the envelope, and
the OpenAPI document."""

import http.client
import json
import logging
import socket

import httpx
import pytest

import interop.app
from factories import new_account, new_cloud
from interop.errors import ERROR_CODES, error_body

SEED_OPERATIONS = {
    ("get", "/actors"),
    ("get", "/clouds"),
    ("post", "/clouds"),
    ("get", "/clouds/search"),
    ("get", "/clouds/{id}"),
    ("delete", "/clouds/{id}"),
    ("get", "/clouds/{id}/actors"),
    ("get", "/integrations"),
    ("post", "/integrations"),
    ("get", "/integrations/{id}/versions"),
    ("post", "/integrations/{id}/versions"),
    ("patch", "/integrations/{id}/versions/{version}"),
    ("delete", "/integrations/{id}/versions/{version}"),
    ("put", "/integrations/{id}/versions/{version}/blueprint"),
    ("get", "/integrations/{id}"),
    ("patch", "/integrations/{id}"),
    ("delete", "/integrations/{id}"),
    ("get", "/tenants"),
    ("get", "/tenants/{id}"),
    ("get", "/tenant"),
    ("get", "/tenant/state"),
    ("get", "/tenant/scoping/schools"),
    ("post", "/tenant/scoping/schools"),
    ("delete", "/tenant/scoping/schools"),
    ("get", "/tenant/scoping/schools/{id}"),
    ("put", "/tenant/scoping/schools/{id}"),
    ("delete", "/tenant/scoping/schools/{id}"),
    ("get", "/tenant/scoping/courses"),
    ("post", "/tenant/scoping/courses"),
    ("delete", "/tenant/scoping/courses"),
    ("get", "/tenant/scoping/courses/{id}"),
    ("put", "/tenant/scoping/courses/{id}"),
    ("delete", "/tenant/scoping/courses/{id}"),
    ("get", "/tenant/application"),
    ("patch", "/tenant/application"),
    ("get", "/tenant/rollovers"),
    ("post", "/tenant/rollovers"),
    ("get", "/tenant/rollovers/count"),
    ("get", "/tenant/rollovers/{id}"),
    ("put", "/tenant/rollovers/{id}"),
    ("delete", "/tenant/rollovers/{id}"),
    ("get", "/tenant/schedules"),
    ("post", "/tenant/schedules"),
    ("post", "/tenant/schedules/{id}/run"),
    ("get", "/tenant/schedules/count"),
    ("get", "/tenant/schedules/{id}"),
    ("patch", "/tenant/schedules/{id}"),
    ("delete", "/tenant/schedules/{id}"),
    ("get", "/ingestions"),
    ("get", "/ingestions/count"),
    ("get", "/ingestions/{id}"),
}


def test_healthz(api: httpx.Client) -> None:
    assert api.get("/healthz").json() == {"status": "ok"}


def test_readyz_checks_database_and_migrations(api: httpx.Client) -> None:
    response = api.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


def test_metrics_count_requests_by_route_template(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    cloud = new_cloud(api, caller)
    api.get(f"/v2/interop/clouds/{cloud['id']}", headers=caller.headers)
    text = api.get("/metrics").text
    assert 'route="/v2/interop/clouds/{id}"' in text
    assert cloud["id"] not in text
    assert "interop_http_request_duration_seconds_bucket" in text


def test_docs_page_is_served(api: httpx.Client) -> None:
    response = api.get("/docs")
    assert response.status_code == 200
    assert "swagger" in response.text.lower()


def test_unknown_path_is_404_in_the_envelope(api: httpx.Client) -> None:
    response = api.get("/v2/interop/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert response.json()["error"]["status"] == 404


def test_wrong_method_is_405_in_the_envelope(api: httpx.Client) -> None:
    response = api.put("/v2/interop/clouds", json={})
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert "GET" in response.headers["allow"]


def test_head_answers_as_get_without_a_body(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    cloud = new_cloud(api, caller)
    url = f"/v2/interop/clouds/{cloud['id']}"
    got = api.get(url, headers=caller.headers)
    head = api.head(url, headers=caller.headers)
    assert head.status_code == 200
    assert head.content == b""
    for name in ("content-type", "content-length", "etag"):
        assert head.headers[name] == got.headers[name], name
    assert api.head("/healthz").status_code == 200
    refused = api.head(url)  # the GET's 401, headers and all
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Bearer")
    assert refused.content == b""
    assert api.head("/oauth/token").status_code == 405  # no GET there either


def test_an_unexpected_error_is_one_500_envelope_on_a_connection_left_open(
    server, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def fails(_engine: object) -> bool:
        raise RuntimeError("a detail for the server log only")

    monkeypatch.setattr(interop.app, "migrations_are_current", fails)  # /readyz now raises
    url = httpx.URL(server.base_url)
    connection = http.client.HTTPConnection(url.host, url.port, timeout=30)
    with caplog.at_level(logging.INFO):
        connection.request("GET", "/readyz")
        failed = connection.getresponse()
        body = failed.read()
        opened = connection.sock
        connection.request("GET", "/healthz")  # uvicorn had closed the connection
        after = connection.getresponse()
        after.read()
    same_connection = opened is not None and connection.sock is opened
    connection.close()
    assert failed.status == 500
    message = "unexpected error; the server log has the details"
    assert json.loads(body) == error_body(500, "internal_error", message)
    assert after.status == 200 and same_connection
    tracebacks = [record.getMessage() for record in caplog.records if record.exc_info]
    assert tracebacks == ["unhandled error"]  # uvicorn logged it again


@pytest.mark.parametrize(
    ("request_bytes", "reason"),
    [
        (b"FETCH /healthz HTTP/1.1\r\nHost: x\r\n\r\n", "Invalid method encountered"),
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n", "Invalid header token"),
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX: a\x01b\r\n\r\n", "Invalid header value char"),
        (
            b"POST /oauth/token HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            "Invalid character in chunk size",
        ),
        (b"GET http://[::1 HTTP/1.1\r\nHost: x\r\n\r\n", "invalid url b'http://[::1'"),
    ],
)
def test_a_request_the_http_parser_rejects_is_400_in_the_envelope(
    server, request_bytes: bytes, reason: str
) -> None:
    url = httpx.URL(server.base_url)
    with socket.create_connection((url.host, url.port), timeout=30) as sock:
        sock.sendall(request_bytes)
        response = http.client.HTTPResponse(sock)
        response.begin()
        body = response.read()
        assert sock.recv(1) == b""  # the parser cannot go on: the connection is closed
    assert response.status == 400
    assert response.getheader("content-type") == "application/json"
    message = f"the request is not valid HTTP: {reason}"
    assert json.loads(body) == error_body(400, "invalid_request", message)


@pytest.fixture(scope="module")
def openapi(server) -> dict:
    return httpx.get(f"{server.base_url}/openapi.json").json()


def test_openapi_lists_every_seed_operation(openapi: dict) -> None:
    listed = {
        (method, path.removeprefix("/v2/interop"))
        for path, operations in openapi["paths"].items()
        for method in operations
    }
    assert SEED_OPERATIONS - listed == set()


def test_openapi_declares_both_security_schemes(openapi: dict) -> None:
    schemes = openapi["components"]["securitySchemes"]
    assert schemes["OAuth2"]["flows"]["clientCredentials"]["tokenUrl"] == "/oauth/token"
    # As the published API shows it: an Authorization header carrying an LTI JWT.
    assert schemes["LTI JWT"] == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "LTI JWT Authorization header using the Bearer scheme",
    }
    clouds = openapi["paths"]["/v2/interop/clouds"]["get"]["security"]
    assert {"OAuth2": []} in clouds
    assert {"LTI JWT": []} in clouds


def test_each_operation_lists_the_schemes_its_callers_may_use(openapi: dict) -> None:
    """The schemes are declared by the principal dependencies, not solved per request."""
    paths = openapi["paths"]
    bearer = [{"OAuth2": []}, {"LTI JWT": []}]
    assert paths["/v2/interop/clouds"]["get"]["security"] == [*bearer, {"AccountKeyBasic": []}]
    assert paths["/v2/interop/tenant/schedules"]["get"]["security"] == bearer  # actors only
    # Either kind; an account's key also works as Basic there.
    assert paths["/v2/interop/ingestions"]["get"]["security"] == [*bearer, {"AccountKeyBasic": []}]
    assert "security" not in paths["/healthz"]["get"]
    assert "security" not in paths["/oauth/token"]["post"]
    assert set(openapi["components"]["securitySchemes"]) == {"OAuth2", "LTI JWT", "AccountKeyBasic"}


def test_query_integers_publish_their_bounds_as_json_schema(openapi: dict) -> None:
    def schema(path: str, name: str) -> dict:
        parameters = openapi["paths"][path]["get"]["parameters"]
        return next(p["schema"] for p in parameters if p["name"] == name)

    assert schema("/v2/interop/clouds", "page")["minimum"] == 0
    assert schema("/v2/interop/clouds", "page_size")["minimum"] == 1
    generation = schema("/v2/interop/clouds/search", "generation")["anyOf"][0]
    assert (generation["minimum"], generation["maximum"]) == (-(2**31), 2**31 - 1)
    assert '"ge"' not in str(openapi).replace("'", '"')


def test_openapi_lists_every_error_code_once(openapi: dict) -> None:
    codes = openapi["components"]["schemas"]["ErrorCode"]
    assert codes["enum"] == list(ERROR_CODES)
    assert "- `method_not_allowed` (405): " in codes["description"]


def test_openapi_lists_error_codes_per_operation(openapi: dict) -> None:
    create = openapi["paths"]["/v2/interop/clouds"]["post"]["responses"]
    conflict_codes = create["409"]["content"]["application/json"]["schema"]["properties"]["error"][
        "properties"
    ]["code"]["enum"]
    assert conflict_codes == ["cloud_name_taken"]
    assert "422" not in create
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            assert "422" not in operation["responses"], (method, path)
            if path.startswith("/v2/interop"):
                assert "401" in operation["responses"], (method, path)
                assert operation.get("security"), (method, path)
