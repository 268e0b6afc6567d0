"""A required name or identifier made only of whitespace is `400 invalid_request` naming the
field, wherever the API or the CLI takes one; one with content is kept exactly as sent.
Before, a cloud named "   " (or a rollover, a connector, a scoping identifier, an LTI
issuer…) was stored, and "\\t" and "   " named things no one could tell apart."""

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from cli_runner import run
from factories import Caller, new_account, new_tenant
from jwt_parties import KeyPair

API = "/v2/interop"
BLANKS = ["   ", "\t\n", "\u3000\u00a0"]  # ASCII and Unicode whitespace
MESSAGE = "Value error, must not be empty or only whitespace"


class Tenant:
    """A tenant's owner and actor, and the requests each case sends with a blank value."""

    def __init__(self, api: httpx.Client, owner: Caller, actor: Caller) -> None:
        self.api, self.owner, self.actor = api, owner, actor
        integrations = api.get(f"{API}/integrations", headers=owner.headers).json()["data"]
        self.integration_id = integrations[0]["id"]

    def by_owner(self, method: str, path: str, body: dict[str, Any]) -> httpx.Response:
        return self.api.request(method, f"{API}{path}", json=body, headers=self.owner.headers)

    def by_actor(self, method: str, path: str, body: dict[str, Any]) -> httpx.Response:
        return self.api.request(method, f"{API}{path}", json=body, headers=self.actor.headers)

    def install(self, body: dict[str, Any]) -> httpx.Response:
        return self.by_owner("POST", f"/clouds/{self.actor.extra['cloud_id']}/actors", body)

    def rollover(self, name: str) -> httpx.Response:
        body = {
            "name": name,
            "start_date": "2027-06-01T00:00:00Z",
            "end_date": "2027-08-01T00:00:00Z",
            "type": "retain_deletes",
            "status": "scheduled",
            "cloud_id": self.actor.extra["cloud_id"],
        }
        return self.by_actor("POST", "/tenant/rollovers", body)

    def scoping(self, kind: str, entry: dict[str, Any]) -> httpx.Response:
        return self.by_actor("POST", f"/tenant/scoping/{kind}", {"data": [entry]})

    def platform(self, **fields: str) -> httpx.Response:
        body = {"issuer": "https://lms.example.edu", "client_id": "tool", **fields}
        return self.by_owner("POST", "/lti/platforms", {**body, "jwk": KeyPair.rsa().public_jwk})


Send = Callable[[Tenant, str], httpx.Response]
# what → (the request carrying the blank value, the field its 400 names)
CASES: dict[str, tuple[Send, str]] = {
    "cloud name": (lambda t, b: t.by_owner("POST", "/clouds", {"name": b}), "body.name"),
    "integration title": (
        lambda t, b: t.by_owner("POST", "/integrations", {"name": "other", "title": b}),
        "body.title",
    ),
    "integration title change": (
        lambda t, b: t.by_owner("PATCH", f"/integrations/{t.integration_id}", {"title": b}),
        "body.title",
    ),
    "version title change": (
        lambda t, b: t.by_owner(
            "PATCH", f"/integrations/{t.integration_id}/versions/1.0", {"title": b}
        ),
        "body.title",
    ),
    "connector name": (
        lambda t, b: t.install(
            {"type": "connector", "name": b, "source": {"kind": "oneroster_csv", "location": "x"}}
        ),
        "body.name",
    ),
    "connector location": (
        lambda t, b: t.install(
            {"type": "connector", "name": "SIS", "source": {"kind": "oneroster_csv", "location": b}}
        ),
        "body.source.location",
    ),
    "actor name": (
        lambda t, b: t.install(
            {"type": "integration", "integration": {"name": "gradebook"}, "name": b}
        ),
        "body.name",
    ),
    "installed integration's name": (
        lambda t, b: t.install({"type": "integration", "integration": {"name": b}}),
        "body.integration.name",
    ),
    "installed version": (
        lambda t, b: t.install(
            {"type": "integration", "integration": {"name": "gradebook", "version": b}}
        ),
        "body.integration.version",
    ),
    "rollover name": (lambda t, b: t.rollover(b), "body.name"),
    "scoping school identifier": (
        lambda t, b: t.scoping("schools", {"school_ref_id": b}),
        "body.data.0.school_ref_id",
    ),
    "scoping course identifier": (
        lambda t, b: t.scoping("courses", {"course_ref_id": b}),
        "body.data.0.course_ref_id",
    ),
    "LTI client id": (lambda t, b: t.platform(client_id=b), "body.client_id"),
}


@pytest.mark.parametrize("case", CASES)
def test_a_blank_name_is_400_naming_the_field(server, api: httpx.Client, case: str) -> None:
    tenant = Tenant(api, *new_tenant(server, api))
    send, field = CASES[case]
    for blank in BLANKS:
        response = send(tenant, blank)
        assert response.status_code == 400, (blank, response.text)
        error = response.json()["error"]
        assert error["code"] == "invalid_request"
        assert {"field": field, "message": MESSAGE} in error["details"], error["details"]


def test_a_name_with_content_is_kept_as_sent(server, api: httpx.Client) -> None:
    owner = new_account(server, api)
    response = api.post(f"{API}/clouds", json={"name": "  north \t"}, headers=owner.headers)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["name"] == "  north \t"


def test_the_published_schema_says_a_name_needs_content(server, api: httpx.Client) -> None:
    """The OpenAPI document states the rule, so a client (or the schema fuzzer) knows it."""
    schemas = api.get("/openapi.json").json()["components"]["schemas"]
    pattern = schemas["CloudCreate"]["properties"]["name"]["pattern"]
    assert re.search(pattern, "  north \t")
    assert not any(re.search(pattern, blank) for blank in BLANKS)


def test_the_cli_refuses_a_blank_account_name(tmp_path: Path) -> None:
    result = run(["accounts", "create", "--name", " \t "], tmp_path)
    assert result.returncode == 1
    assert "account name must not be empty or only whitespace" in result.stderr
    assert run(["accounts", "list", "--json"], tmp_path).stdout.strip() == "[]"
