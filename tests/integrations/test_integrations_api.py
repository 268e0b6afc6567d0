"""Integrations and versions over HTTP: names, blueprints, release states, in-use rules."""

import json
import time
import uuid
from pathlib import Path

import httpx
import pytest

from factories import add_version, blueprint_xml, install, new_account, new_cloud, new_integration

INTEGRATIONS = "/v2/interop/integrations"
BLUEPRINTS = Path(__file__).resolve().parents[3] / "shared" / "data" / "blueprints"


def _post_blueprint(api, caller, integration_id, document, content_type="application/xml"):
    return api.post(
        f"{INTEGRATIONS}/{integration_id}/versions",
        content=document,
        headers={**caller.headers, "Content-Type": content_type},
    )


def test_create_integration_defaults_title_to_name(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    response = api.post(INTEGRATIONS, json={"name": "gradebook"}, headers=caller.headers)
    assert response.status_code == 200
    body = response.json()["data"]
    assert body["name"] == "gradebook"
    assert body["title"] == "gradebook"
    assert body["version"] is None
    assert body["status"] == "active"
    assert body["account_id"] == caller.account_id


@pytest.mark.parametrize("name", ["Gradebook", "-x", "", "a" * 65, "has space"])
def test_bad_integration_name_is_400(server, api: httpx.Client, name: str) -> None:
    caller = new_account(server, api)
    response = api.post(INTEGRATIONS, json={"name": name}, headers=caller.headers)
    assert response.status_code == 400


def test_integration_name_is_unique_across_the_server(server, api: httpx.Client) -> None:
    new_integration(api, new_account(server, api, "a"), versions={})
    response = api.post(
        INTEGRATIONS, json={"name": "gradebook"}, headers=new_account(server, api, "b").headers
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "integration_name_taken"


def test_list_filters_by_name_and_shows_only_own(server, api: httpx.Client) -> None:
    mine = new_account(server, api, "mine")
    new_integration(api, mine, "alpha", versions={})
    new_integration(api, mine, "beta", versions={})
    new_integration(api, new_account(server, api, "other"), "gamma", versions={})
    names = [i["name"] for i in api.get(INTEGRATIONS, headers=mine.headers).json()["data"]]
    assert names == ["alpha", "beta"]
    found = api.get(INTEGRATIONS, params={"name": "beta"}, headers=mine.headers).json()["data"]
    assert [i["name"] for i in found] == ["beta"]


def test_version_is_newest_released_else_newest(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    integration = new_integration(api, caller, versions={"1.0": "released", "2.0": "beta"})
    body = api.get(f"{INTEGRATIONS}/{integration['id']}", headers=caller.headers).json()["data"]
    assert body["version"] == "1.0"
    other = new_integration(api, caller, "other", versions={"0.1": "development", "0.2": "beta"})
    body = api.get(f"{INTEGRATIONS}/{other['id']}", headers=caller.headers).json()["data"]
    assert body["version"] == "0.2"


def test_patch_integration_changes_title_and_status(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    integration = new_integration(api, caller, versions={})
    response = api.patch(
        f"{INTEGRATIONS}/{integration['id']}",
        json={"title": "Gradebook Pro", "status": "inactive"},
        headers=caller.headers,
    )
    assert response.status_code == 204
    body = api.get(f"{INTEGRATIONS}/{integration['id']}", headers=caller.headers)
    assert body.json()["data"]["title"] == "Gradebook Pro"
    assert body.json()["data"]["status"] == "inactive"
    assert body.headers["etag"] == '"2"'


def test_patch_changing_the_name_is_read_only_field(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    integration = new_integration(api, caller, versions={})
    same = api.patch(
        f"{INTEGRATIONS}/{integration['id']}", json={"name": "gradebook"}, headers=caller.headers
    )
    assert same.status_code == 204
    changed = api.patch(
        f"{INTEGRATIONS}/{integration['id']}",
        json={"name": "other", "title": "T"},
        headers=caller.headers,
    )
    assert changed.status_code == 400
    assert changed.json()["error"]["code"] == "read_only_field"
    body = api.get(f"{INTEGRATIONS}/{integration['id']}", headers=caller.headers).json()["data"]
    assert body["title"] == "gradebook"


def test_patch_bad_status_is_400(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    integration = new_integration(api, caller, versions={})
    response = api.patch(
        f"{INTEGRATIONS}/{integration['id']}", json={"status": "sleepy"}, headers=caller.headers
    )
    assert response.status_code == 400


def test_patch_with_stale_if_match_is_409(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    integration = new_integration(api, caller, versions={})
    response = api.patch(
        f"{INTEGRATIONS}/{integration['id']}",
        json={"title": "x"},
        headers={**caller.headers, "If-Match": '"5"'},
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "concurrent_modification"


def test_delete_integration_in_use_is_409_then_204(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    integration = new_integration(api, caller)
    cloud = new_cloud(api, caller)
    actor = install(api, caller, cloud["id"], "gradebook")
    refused = api.delete(f"{INTEGRATIONS}/{integration['id']}", headers=caller.headers)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "integration_in_use"
    api.delete(f"/v2/interop/clouds/{cloud['id']}/actors/{actor['id']}", headers=caller.headers)
    assert (
        api.delete(f"{INTEGRATIONS}/{integration['id']}", headers=caller.headers).status_code == 204
    )
    assert api.get(f"{INTEGRATIONS}/{integration['id']}", headers=caller.headers).status_code == 404


@pytest.mark.parametrize("content_type", ["application/xml", "text/plain", "text/xml"])
def test_create_version_reads_version_and_title_from_blueprint(
    server, api: httpx.Client, content_type: str
) -> None:
    caller = new_account(server, api)
    integration = new_integration(api, caller, versions={})
    document = (BLUEPRINTS / "grades-blueprint.xml").read_bytes()
    response = _post_blueprint(api, caller, integration["id"], document, content_type)
    assert response.status_code == 200, response.text
    version = response.json()["data"]
    assert version["version"] == "1.0.1"
    assert version["title"] == "Grades API Example"
    assert version["release_state"] == "development"
    assert len(version["blueprint_sha256"]) == 64


def test_create_version_from_a_json_string(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    integration = new_integration(api, caller, versions={})
    response = _post_blueprint(
        api, caller, integration["id"], json.dumps(blueprint_xml("3.1")), "application/json"
    )
    assert response.status_code == 200
    assert response.json()["data"]["version"] == "3.1"


def test_create_version_with_other_content_type_is_415(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    integration = new_integration(api, caller, versions={})
    response = _post_blueprint(api, caller, integration["id"], blueprint_xml(), "image/png")
    assert response.status_code == 415


def test_a_blueprint_sent_to_a_trailing_slash_is_redirected(server, api: httpx.Client) -> None:
    # The JSON-only rule matched the route without its slash: an XML body there was 415
    # "send the body as application/json", before the router could redirect it.
    caller = new_account(server, api)
    integration = new_integration(api, caller, versions={})
    url = f"{INTEGRATIONS}/{integration['id']}/versions/"
    headers = {**caller.headers, "Content-Type": "application/xml"}
    redirected = api.post(url, content=blueprint_xml("1.0"), headers=headers)
    assert redirected.status_code == 307
    created = api.post(url, content=blueprint_xml("1.0"), headers=headers, follow_redirects=True)
    assert created.status_code == 200
    assert created.json()["data"]["version"] == "1.0"
    replaced = api.put(
        f"{url}1.0/blueprint/", content=blueprint_xml("1.0", title="Renamed"), headers=headers
    )
    assert replaced.status_code == 307


def test_duplicate_version_is_409(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    integration = new_integration(api, caller, versions={"1.0": "development"})
    response = _post_blueprint(api, caller, integration["id"], blueprint_xml("1.0"))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "version_exists"


def test_auth_type_comes_from_the_blueprint(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    integration = new_integration(api, caller, versions={})
    response = _post_blueprint(
        api, caller, integration["id"], blueprint_xml("1.0", auth_type="oauth2")
    )
    assert response.json()["data"]["auth_type"] == "oauth2"


HOSTILE = {
    "billion_laughs": (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
        "<Blueprint Id='x' Version='1.0'><Integration><Title>&lol3;</Title></Integration>"
        "</Blueprint>"
    ),
    "external_entity": (
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        "<Blueprint Id='x' Version='1.0'><Integration><Title>&xxe;</Title></Integration>"
        "</Blueprint>"
    ),
    "deep_nesting": "<Blueprint Id='x' Version='1.0'>"
    + "<a>" * 5000
    + "</a>" * 5000
    + "</Blueprint>",
    "truncated": blueprint_xml("1.0")[:60],
    "missing_version": "<Blueprint Id='x'><Integration><Title>T</Title></Integration></Blueprint>",
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_blueprint_is_400_and_leaves_nothing(server, api: httpx.Client, case: str) -> None:
    caller = new_account(server, api)
    integration = new_integration(api, caller, versions={})
    started = time.perf_counter()
    response = _post_blueprint(api, caller, integration["id"], HOSTILE[case])
    assert time.perf_counter() - started < 1.0  # a bound on hostile input, not a benchmark
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_blueprint"
    assert "Traceback" not in response.text
    versions = api.get(f"{INTEGRATIONS}/{integration['id']}/versions", headers=caller.headers)
    assert versions.json()["data"] == []


def test_truncated_blueprint_error_names_line_and_column(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    integration = new_integration(api, caller, versions={})
    response = _post_blueprint(
        api, caller, integration["id"], "<Blueprint Id='x' Version='1'>\n<Integration>"
    )
    details = response.json()["error"]["details"]
    assert details["line"] == 2
    assert isinstance(details["column"], int)


def test_versions_list_newest_first(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    integration = new_integration(
        api, caller, versions={"1.0": "released", "1.1": "beta", "2.0": "development"}
    )
    body = api.get(f"{INTEGRATIONS}/{integration['id']}/versions", headers=caller.headers).json()
    assert [v["version"] for v in body["data"]] == ["2.0", "1.1", "1.0"]


def test_patch_version_release_state_and_title(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    integration = new_integration(api, caller, versions={"1.0": "development"})
    url = f"{INTEGRATIONS}/{integration['id']}/versions/1.0"
    assert (
        api.patch(
            url, json={"release_state": "released", "title": "One"}, headers=caller.headers
        ).status_code
        == 204
    )
    version = api.get(url, headers=caller.headers).json()["data"]
    assert version["release_state"] == "released"
    assert version["title"] == "One"
    bad = api.patch(url, json={"release_state": "gold"}, headers=caller.headers)
    assert bad.status_code == 400


def test_a_version_change_that_moves_the_shown_version_changes_the_etag(
    server, api: httpx.Client
) -> None:
    # Releasing or deleting a version can change the integration's `version`; its ETag and
    # updated_at stayed the same, so a client's If-Match taken before still matched.
    caller = new_account(server, api)
    integration = new_integration(api, caller, versions={"1.0": "development", "2.0": "beta"})
    url = f"{INTEGRATIONS}/{integration['id']}"

    def shown() -> tuple[str, str, str]:
        response = api.get(url, headers=caller.headers)
        body = response.json()["data"]
        return body["version"], response.headers["etag"], body["updated_at"]

    version, first_etag, first_updated = shown()
    assert version == "2.0"
    released = api.patch(
        f"{url}/versions/1.0", json={"release_state": "released"}, headers=caller.headers
    )
    assert released.status_code == 204
    version, released_etag, released_updated = shown()
    assert version == "1.0"
    assert released_etag != first_etag
    assert released_updated > first_updated
    stale = api.patch(url, json={"title": "x"}, headers={**caller.headers, "If-Match": first_etag})
    assert stale.status_code == 409
    assert api.delete(f"{url}/versions/1.0", headers=caller.headers).status_code == 204
    version, deleted_etag, _ = shown()
    assert version == "2.0"
    assert deleted_etag != released_etag
    # The same release state again, or a title, leaves the integration as it was.
    for body in ({"release_state": "beta"}, {"title": "Two"}):
        assert (
            api.patch(f"{url}/versions/2.0", json=body, headers=caller.headers).status_code == 204
        )
        assert shown()[1] == deleted_etag


def test_patch_unknown_version_is_404(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    integration = new_integration(api, caller, versions={})
    response = api.patch(
        f"{INTEGRATIONS}/{integration['id']}/versions/9.9",
        json={"title": "x"},
        headers=caller.headers,
    )
    assert response.status_code == 404


def test_delete_version_in_use_is_409(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    integration = new_integration(api, caller, versions={"1.0": "released", "2.0": "released"})
    install(api, caller, new_cloud(api, caller)["id"], "gradebook", "1.0")
    refused = api.delete(f"{INTEGRATIONS}/{integration['id']}/versions/1.0", headers=caller.headers)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "version_in_use"
    assert (
        api.delete(
            f"{INTEGRATIONS}/{integration['id']}/versions/2.0", headers=caller.headers
        ).status_code
        == 204
    )


def test_put_blueprint_replaces_it(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    integration = new_integration(api, caller, versions={"1.0": "development"})
    response = api.put(
        f"{INTEGRATIONS}/{integration['id']}/versions/1.0/blueprint",
        content=blueprint_xml("1.0", title="Renamed", auth_type="oauth2"),
        headers={**caller.headers, "Content-Type": "application/xml"},
    )
    assert response.status_code == 200
    body = response.json()["data"]
    assert body["title"] == "Renamed"
    assert body["auth_type"] == "oauth2"
    assert body["revision"] == 2
    # The answer is the stored version as a later read sees it, its update time included.
    stored = api.get(
        f"{INTEGRATIONS}/{integration['id']}/versions/1.0", headers=caller.headers
    ).json()["data"]
    assert body == stored
    assert body["updated_at"] > body["created_at"]


def test_put_blueprint_with_other_version_is_version_mismatch(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    integration = new_integration(api, caller, versions={"1.0": "development"})
    response = api.put(
        f"{INTEGRATIONS}/{integration['id']}/versions/1.0/blueprint",
        content=blueprint_xml("2.0"),
        headers={**caller.headers, "Content-Type": "application/xml"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "version_mismatch"


def test_other_accounts_cannot_see_or_change_an_integration(server, api: httpx.Client) -> None:
    owner = new_account(server, api, "owner")
    other = new_account(server, api, "other")
    integration = new_integration(api, owner)
    url = f"{INTEGRATIONS}/{integration['id']}"
    assert api.get(url, headers=other.headers).status_code == 404
    assert api.patch(url, json={"title": "x"}, headers=other.headers).status_code == 404
    assert api.delete(url, headers=other.headers).status_code == 404
    assert _post_blueprint(api, other, integration["id"], blueprint_xml("9.0")).status_code == 404
    assert api.get(url, headers=owner.headers).json()["data"]["title"] == "gradebook"


def test_unknown_integration_is_404(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    assert api.get(f"{INTEGRATIONS}/{uuid.uuid4()}", headers=caller.headers).status_code == 404


def test_add_version_helper_really_creates(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    integration = new_integration(api, caller, versions={})
    add_version(api, caller, integration["id"], "5.0", "beta")
    versions = api.get(
        f"{INTEGRATIONS}/{integration['id']}/versions", headers=caller.headers
    ).json()["data"]
    assert [(v["version"], v["release_state"]) for v in versions] == [("5.0", "beta")]
