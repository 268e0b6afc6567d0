"""The tenant application and its auth workflow (blueprint defaults, sessions, PATCH rules)."""

import uuid

import httpx

from factories import actor_caller, add_version, install, new_account, new_cloud, new_tenant

APPLICATION = "/v2/interop/tenant/application"


def _open_session(api, owner, actor) -> dict:
    response = api.post(
        f"/v2/interop/tenants/{actor.extra['tenant_id']}/application/auth-session",
        headers=owner.headers,
    )
    assert response.status_code == 200, response.text
    return dict(response.json()["data"])


def test_application_defaults_come_from_the_blueprint(server, api: httpx.Client) -> None:
    owner = new_account(server, api)
    integration = api.post(
        "/v2/interop/integrations", json={"name": "gradebook"}, headers=owner.headers
    ).json()["data"]
    blueprint = (
        "<Blueprint Id='gradebook' Version='1.0'><Integration><Title>G</Title></Integration>"
        "<Application DeliverTasks='true'><Authentication Type='OAuth2'/></Application>"
        "</Blueprint>"
    )
    created = api.post(
        f"/v2/interop/integrations/{integration['id']}/versions",
        content=blueprint,
        headers={**owner.headers, "Content-Type": "application/xml"},
    )
    assert created.status_code == 200
    actor = actor_caller(api, install(api, owner, new_cloud(api, owner)["id"], "gradebook"))
    response = api.get(APPLICATION, headers=actor.headers)
    assert response.status_code == 200
    application = response.json()["data"]
    assert application["auth_type"] == "oauth2"
    assert application["deliver_tasks"] is True
    assert application["validate_tasks"] is False
    assert application["auth_state"] == "unconfigured"
    assert application["auth_state_pending"] == "none"
    assert application["auth_session_id_pending"] is None
    assert application["tenant_id"] == actor.extra["tenant_id"]


def test_patch_without_an_open_session_is_auth_not_updating(server, api: httpx.Client) -> None:
    _, actor = new_tenant(server, api)
    response = api.patch(
        APPLICATION, json={"auth_state_pending": "confirmed"}, headers=actor.headers
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "auth_not_updating"


def test_confirming_moves_the_state_and_ends_the_session(server, api: httpx.Client) -> None:
    owner, actor = new_tenant(server, api)
    opened = _open_session(api, owner, actor)
    assert opened["auth_state_pending"] == "updating"
    assert uuid.UUID(opened["auth_session_id_pending"])
    patched = api.patch(
        APPLICATION,
        json={
            "auth_state_pending": "confirmed",
            "auth_message": "connected",
            "auth_attributes_pending": {"district": "42"},
        },
        headers=actor.headers,
    )
    assert patched.status_code == 204
    application = api.get(APPLICATION, headers=actor.headers).json()["data"]
    assert application["auth_state"] == "confirmed"
    assert application["auth_state_pending"] == "none"
    assert application["auth_session_id_pending"] is None
    assert application["auth_message"] == "connected"
    assert application["auth_attributes_pending"] == {"district": "42"}
    again = api.patch(APPLICATION, json={"auth_message": "x"}, headers=actor.headers)
    assert again.status_code == 409


def test_error_outcome_keeps_the_previous_auth_state(server, api: httpx.Client) -> None:
    owner, actor = new_tenant(server, api)
    _open_session(api, owner, actor)
    response = api.patch(
        APPLICATION,
        json={"auth_state_pending": "error", "auth_message": "bad key"},
        headers=actor.headers,
    )
    assert response.status_code == 204
    application = api.get(APPLICATION, headers=actor.headers).json()["data"]
    assert application["auth_state"] == "unconfigured"
    assert application["auth_state_pending"] == "error"
    assert application["auth_session_id_pending"] is None


def test_message_and_attributes_can_change_while_updating(server, api: httpx.Client) -> None:
    owner, actor = new_tenant(server, api)
    _open_session(api, owner, actor)
    response = api.patch(APPLICATION, json={"auth_message": "step 1"}, headers=actor.headers)
    assert response.status_code == 204
    application = api.get(APPLICATION, headers=actor.headers).json()["data"]
    assert application["auth_message"] == "step 1"
    assert application["auth_state_pending"] == "updating"


def test_pending_state_only_to_confirmed_or_error(server, api: httpx.Client) -> None:
    owner, actor = new_tenant(server, api)
    _open_session(api, owner, actor)
    for state in ("updating", "none", "done"):
        response = api.patch(APPLICATION, json={"auth_state_pending": state}, headers=actor.headers)
        assert response.status_code == 400


def test_read_only_fields_with_other_values_are_400(server, api: httpx.Client) -> None:
    owner, actor = new_tenant(server, api)
    opened = _open_session(api, owner, actor)
    for field, value in [
        ("auth_type", "basic"),
        ("deliver_tasks", True),
        ("auth_state", "confirmed"),
        ("tenant_id", str(uuid.uuid4())),
    ]:
        response = api.patch(APPLICATION, json={field: value}, headers=actor.headers)
        assert response.status_code == 400, field
        assert response.json()["error"]["code"] == "read_only_field"
    unchanged = api.patch(
        APPLICATION,
        json={
            "auth_type": opened["auth_type"],
            "auth_message": "ok",
            "auth_session_id_pending": opened["auth_session_id_pending"],
        },
        headers=actor.headers,
    )
    assert unchanged.status_code == 204


def test_patch_with_stale_if_match_is_409(server, api: httpx.Client) -> None:
    owner, actor = new_tenant(server, api)
    _open_session(api, owner, actor)
    response = api.patch(
        APPLICATION, json={"auth_message": "x"}, headers={**actor.headers, "If-Match": '"1"'}
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "concurrent_modification"


def test_auth_session_for_an_invisible_tenant_is_404(server, api: httpx.Client) -> None:
    _, actor = new_tenant(server, api)
    stranger = new_account(server, api, "stranger")
    response = api.post(
        f"/v2/interop/tenants/{actor.extra['tenant_id']}/application/auth-session",
        headers=stranger.headers,
    )
    assert response.status_code == 404


def test_a_new_version_leaves_installed_applications_alone(server, api: httpx.Client) -> None:
    owner, actor = new_tenant(server, api)
    integration_id = api.get("/v2/interop/tenant", headers=actor.headers).json()["data"][
        "integration"
    ]["id"]
    add_version(api, owner, integration_id, "2.0", "released")
    application = api.get(APPLICATION, headers=actor.headers).json()["data"]
    assert application["auth_type"] == "none"
