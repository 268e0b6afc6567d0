"""Actors: installing integrations (tenants, credentials, licenses) and connectors."""

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from factories import DATA, install, new_account, new_cloud, new_integration

_SOURCE = {"kind": "oneroster_csv", "location": str(DATA / "export.zip")}


def _install(api, caller, cloud_id, body):
    return api.post(f"/v2/interop/clouds/{cloud_id}/actors", json=body, headers=caller.headers)


def test_install_creates_tenant_credentials_and_license(server, api: httpx.Client) -> None:
    owner = new_account(server, api)
    integration = new_integration(api, owner)
    cloud = new_cloud(api, owner)
    before = datetime.now(UTC)
    actor = install(api, owner, cloud["id"], "gradebook")
    assert actor["type"] == "integration"
    assert actor["cloud_id"] == cloud["id"]
    assert actor["integration"] == {"id": integration["id"], "name": "gradebook", "version": "1.0"}
    assert actor["credentials"]["client_id"].startswith("act_")
    assert len(actor["credentials"]["client_secret"]) >= 43  # 256 bits, urlsafe base64
    tenant = api.get(f"/v2/interop/tenants/{actor['tenant_id']}", headers=owner.headers).json()[
        "data"
    ]
    assert tenant["license"]["status"] == "active"
    assert tenant["license"]["valid_to"] is None
    valid_from = datetime.fromisoformat(tenant["license"]["valid_from"].replace("Z", "+00:00"))
    assert abs((valid_from - before).total_seconds()) < 60
    assert tenant["auth"]["client_id"] == actor["credentials"]["client_id"]
    assert tenant["auth"]["client_secret"] == actor["credentials"]["client_secret"]
    assert tenant["integration"]["version"] == "1.0"
    assert tenant["cloud"]["id"] == cloud["id"]


def test_install_with_license_valid_to(server, api: httpx.Client) -> None:
    owner = new_account(server, api)
    new_integration(api, owner)
    cloud = new_cloud(api, owner)
    response = _install(
        api,
        owner,
        cloud["id"],
        {
            "type": "integration",
            "integration": {"name": "gradebook"},
            "license": {"valid_to": "2099-06-30T00:00:00+02:00"},
        },
    )
    tenant_id = response.json()["data"]["tenant_id"]
    tenant = api.get(f"/v2/interop/tenants/{tenant_id}", headers=owner.headers).json()["data"]
    assert tenant["license"]["valid_to"] == "2099-06-29T22:00:00Z"
    assert tenant["license"]["status"] == "active"


@pytest.mark.parametrize(
    "valid_to", ["2000-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "a moment ago", "now"]
)
def test_license_ending_before_the_install_is_400(server, api: httpx.Client, valid_to: str) -> None:
    """A license starts at the install: one that ends by then would never have held."""
    owner = new_account(server, api)
    new_integration(api, owner)
    cloud = new_cloud(api, owner)
    moments = {"a moment ago": datetime.now(UTC) - timedelta(seconds=1), "now": datetime.now(UTC)}
    if valid_to in moments:
        valid_to = moments[valid_to].isoformat()
    body = {
        "type": "integration",
        "integration": {"name": "gradebook"},
        "license": {"valid_to": valid_to},
    }
    response = _install(api, owner, cloud["id"], body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert [problem["field"] for problem in error["details"]] == ["body.license.valid_to"]
    actors = api.get(f"/v2/interop/clouds/{cloud['id']}/actors", headers=owner.headers)
    assert actors.json()["data"] == []


def test_owner_may_install_a_development_version(server, api: httpx.Client) -> None:
    owner = new_account(server, api)
    new_integration(api, owner, versions={"0.1": "development"})
    actor = install(api, owner, new_cloud(api, owner)["id"], "gradebook")
    assert actor["integration"]["version"] == "0.1"


@pytest.mark.parametrize("state", ["development", "unspecified", "deprecated", "beta"])
def test_others_cannot_install_unreleased_versions(server, api: httpx.Client, state: str) -> None:
    owner = new_account(server, api, "dev")
    district = new_account(server, api, "district", "education_agency")
    integration = new_integration(api, owner, versions={"1.0": state})
    cloud = new_cloud(api, district)

    def refusal(reference: dict) -> dict:
        body = {"type": "integration", "integration": reference}
        response = _install(api, district, cloud["id"], body)
        assert response.status_code == 404, response.text
        return dict(response.json()["error"])

    # Told exactly as an integration that does not exist: nothing says this one does.
    unknown = refusal({"id": str(uuid.uuid4())})
    assert refusal({"name": "gradebook"}) == unknown
    assert refusal({"name": "gradebook", "version": "1.0"}) == unknown
    assert refusal({"id": integration["id"]}) == unknown


def test_others_get_the_newest_released_version(server, api: httpx.Client) -> None:
    owner = new_account(server, api, "dev")
    district = new_account(server, api, "district", "education_agency")
    new_integration(api, owner, versions={"1.0": "released", "1.1": "released", "2.0": "beta"})
    actor = install(api, district, new_cloud(api, district)["id"], "gradebook")
    assert actor["integration"]["version"] == "1.1"


def test_beta_installable_by_others_when_owner_allows(server, api: httpx.Client) -> None:
    owner = new_account(server, api, "dev")
    district = new_account(server, api, "district", "education_agency")
    integration = new_integration(api, owner, versions={"2.0": "beta"})
    api.patch(
        f"/v2/interop/integrations/{integration['id']}",
        json={"allow_beta": True},
        headers=owner.headers,
    )
    actor = install(api, district, new_cloud(api, district)["id"], "gradebook", "2.0")
    assert actor["integration"]["version"] == "2.0"


def test_install_by_integration_id(server, api: httpx.Client) -> None:
    owner = new_account(server, api)
    integration = new_integration(api, owner)
    response = _install(
        api,
        owner,
        new_cloud(api, owner)["id"],
        {"type": "integration", "integration": {"id": integration["id"]}},
    )
    assert response.status_code == 200


def test_install_without_id_or_name_is_400(server, api: httpx.Client) -> None:
    owner = new_account(server, api)
    response = _install(
        api, owner, new_cloud(api, owner)["id"], {"type": "integration", "integration": {}}
    )
    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["field"] == "body.integration"


def test_the_document_says_an_install_names_its_integration(api: httpx.Client) -> None:
    # Unsaid, a fuzzer's schema-valid {"integration": {"id": null}} was a 400.
    reference = api.get("/openapi.json").json()["components"]["schemas"]["IntegrationRef"]
    assert reference["anyOf"] == [
        {"required": ["id"], "properties": {"id": {"type": "string"}}},
        {"required": ["name"], "properties": {"name": {"type": "string"}}},
    ]


def test_install_twice_in_a_cloud_is_409(server, api: httpx.Client) -> None:
    owner = new_account(server, api)
    new_integration(api, owner)
    cloud = new_cloud(api, owner)
    install(api, owner, cloud["id"], "gradebook")
    response = _install(
        api, owner, cloud["id"], {"type": "integration", "integration": {"name": "gradebook"}}
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "integration_already_installed"


def test_install_into_an_invisible_cloud_is_404(server, api: httpx.Client) -> None:
    owner = new_account(server, api, "dev")
    stranger = new_account(server, api, "stranger")
    new_integration(api, owner)
    cloud = new_cloud(api, stranger)
    response = _install(
        api, owner, cloud["id"], {"type": "integration", "integration": {"name": "gradebook"}}
    )
    assert response.status_code == 404


def test_unknown_actor_type_is_400(server, api: httpx.Client) -> None:
    owner = new_account(server, api)
    response = _install(api, owner, new_cloud(api, owner)["id"], {"type": "robot", "name": "r"})
    assert response.status_code == 400


def test_install_connector_keeps_its_source(server, api: httpx.Client) -> None:
    owner = new_account(server, api)
    cloud = new_cloud(api, owner)
    response = _install(
        api,
        owner,
        cloud["id"],
        {
            "type": "connector",
            "name": "sis",
            "source": {"kind": "oneroster_csv", "location": str(DATA / "export.zip")},
        },
    )
    assert response.status_code == 200
    actor = response.json()["data"]
    assert actor["type"] == "connector"
    assert actor["tenant_id"] is None
    assert actor["integration"] is None
    # It need not exist yet: the district's export may come later.
    assert actor["source"] == {"kind": "oneroster_csv", "location": str(DATA / "export.zip")}


@pytest.mark.parametrize(
    "location",
    [
        "/etc",  # outside INTEROP_SOURCE_ROOTS
        "file:///etc/passwd",
        f"file://elsewhere{DATA / 'export.zip'}",  # another host's, though its path is inside
        str(DATA / ".." / ".." / ".." / "etc"),  # inside a root only by its spelling
        "ftp://host/export.zip",
        "javascript:alert(1)",
        "http://[",
        # An http(s) URL without a host: no collection could download it.
        "http://",
        "https:",
        "http:foo",
        "https:///export.zip",
        "http://:80/export.zip",
        "a\x00b",
    ],
)
def test_a_connector_location_no_collection_may_read_is_400(
    server, api: httpx.Client, location: str
) -> None:
    owner = new_account(server, api)
    cloud = new_cloud(api, owner)
    body = {
        "type": "connector",
        "name": "sis",
        "source": {"kind": "oneroster_csv", "location": location},
    }
    response = _install(api, owner, cloud["id"], body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["details"][0]["field"] == "body.source.location"
    actors = api.get(f"/v2/interop/clouds/{cloud['id']}/actors", headers=owner.headers)
    assert actors.json()["data"] == []


def test_connector_with_unknown_source_kind_is_400(server, api: httpx.Client) -> None:
    owner = new_account(server, api)
    response = _install(
        api,
        owner,
        new_cloud(api, owner)["id"],
        {"type": "connector", "name": "sis", "source": {"kind": "ftp", "location": "x"}},
    )
    assert response.status_code == 400


def test_cloud_actors_include_credentials_only_when_asked(server, api: httpx.Client) -> None:
    owner = new_account(server, api)
    new_integration(api, owner)
    cloud = new_cloud(api, owner)
    actor = install(api, owner, cloud["id"], "gradebook")
    url = f"/v2/interop/clouds/{cloud['id']}/actors"
    plain = api.get(url, headers=owner.headers).json()["data"][0]
    assert plain["credentials"] == {"client_id": actor["credentials"]["client_id"]}
    full = api.get(url, params={"include_credentials": "true"}, headers=owner.headers).json()[
        "data"
    ][0]
    assert full["credentials"] == actor["credentials"]


def test_list_actors_has_no_secrets(server, api: httpx.Client) -> None:
    owner = new_account(server, api)
    new_integration(api, owner)
    install(api, owner, new_cloud(api, owner)["id"], "gradebook")
    actors = api.get("/v2/interop/actors", headers=owner.headers).json()["data"]
    assert len(actors) == 1
    assert "client_secret" not in actors[0]["credentials"]


def test_uninstall_unknown_actor_is_404(server, api: httpx.Client) -> None:
    owner = new_account(server, api)
    cloud = new_cloud(api, owner)
    response = api.delete(
        f"/v2/interop/clouds/{cloud['id']}/actors/00000000-0000-4000-8000-000000000000",
        headers=owner.headers,
    )
    assert response.status_code == 404


def test_rotate_with_stale_if_match_is_409_and_keeps_secret(server, api: httpx.Client) -> None:
    owner = new_account(server, api)
    new_integration(api, owner)
    cloud = new_cloud(api, owner)
    actor = install(api, owner, cloud["id"], "gradebook")
    url = f"/v2/interop/clouds/{cloud['id']}/actors/{actor['id']}/credentials"
    response = api.post(url, headers={**owner.headers, "If-Match": '"9"'})
    assert response.status_code == 409
    token = api.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(actor["credentials"]["client_id"], actor["credentials"]["client_secret"]),
    )
    assert token.status_code == 200


def _race(server, calls: list) -> list[tuple[str, int, str]]:
    """Send every (name, method, url, json, headers) at once; (name, status, code) each."""

    def send(call: tuple) -> tuple[str, int, str]:
        name, method, url, body, headers = call
        with httpx.Client(base_url=server.base_url, timeout=60) as client:
            response = client.request(method, url, json=body, headers=headers)
        code = response.json()["error"]["code"] if response.status_code >= 400 else ""
        return name, response.status_code, code

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(send, calls))


def test_installs_racing_a_cloud_delete_are_installed_then_deleted_or_404(
    server, api: httpx.Client
) -> None:
    owner = new_account(server, api)
    new_integration(api, owner)
    connector = {"type": "connector", "name": "sis", "source": _SOURCE}
    integration = {"type": "integration", "integration": {"name": "gradebook"}}
    for round_ in range(6):
        cloud = new_cloud(api, owner, f"race-{round_}")["id"]
        url = f"/v2/interop/clouds/{cloud}"
        calls = [("delete", "DELETE", url, None, owner.headers)]
        calls += [("connector", "POST", f"{url}/actors", connector, owner.headers)] * 6
        calls += [("integration", "POST", f"{url}/actors", integration, owner.headers)]
        results = _race(server, calls)
        # Before, an install whose cloud was deleted under it was a 500 (a foreign key
        # violation) or a 409 integration_already_installed.
        assert ("delete", 204, "") in results
        installs = {(status, code) for name, status, code in results if name != "delete"}
        assert installs <= {(200, ""), (404, "not_found")}, results
        assert api.get(f"{url}/actors", headers=owner.headers).status_code == 404


def test_installs_racing_an_integration_delete_never_leave_a_tenant_without_it(
    server, api: httpx.Client
) -> None:
    owner = new_account(server, api)
    for round_ in range(6):
        integration = new_integration(api, owner, name=f"race-{round_}")
        clouds = [new_cloud(api, owner, f"race-{round_}-{n}")["id"] for n in range(6)]
        body = {"type": "integration", "integration": {"name": integration["name"]}}
        url = f"/v2/interop/integrations/{integration['id']}"
        calls = [("delete", "DELETE", url, None, owner.headers)]
        calls += [
            ("install", "POST", f"/v2/interop/clouds/{c}/actors", body, owner.headers)
            for c in clouds
        ]
        results = _race(server, calls)
        installs = {(status, code) for name, status, code in results if name == "install"}
        # All or nothing: a tenant made first keeps the integration (in use); a delete made
        # first leaves nothing to install (before, a 409 integration_already_installed).
        if ("delete", 204, "") in results:
            assert installs == {(404, "not_found")}, results
        else:
            assert ("delete", 409, "integration_in_use") in results, results
            assert installs == {(200, "")}, results


def test_install_errors_name_fields_as_the_body_has_them(server, api: httpx.Client) -> None:
    # Not under the union member pydantic chose ("body.integration.integration"), and a type
    # that names no member is the type's fault, not the whole body's (pydantic says "body").
    owner = new_account(server, api)
    cloud_id = new_cloud(api, owner)["id"]
    cases = [
        ({"type": "integration"}, "body.integration"),
        ({"type": "connector", "name": "SIS"}, "body.source"),
        (
            {"type": "connector", "name": "SIS", "source": {"kind": "oneroster_csv"}},
            "body.source.location",
        ),
        ({"type": "printer"}, "body.type"),
        ({"type": 5}, "body.type"),
        ({"name": "SIS"}, "body.type"),
    ]
    for body, field in cases:
        response = _install(api, owner, cloud_id, body)
        assert response.status_code == 400, response.text
        fields = [problem["field"] for problem in response.json()["error"]["details"]]
        assert fields == [field], (body, fields)
