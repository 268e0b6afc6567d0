"""Writes to an existing object (PUT and PATCH), on every kind that has them: they answer with
the object's new ETag, and read-only fields hold: a client may send back what it read (ids in
another case, times in another offset), but any field it cannot write given another value is
`400 read_only_field`, and nothing changes."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from factories import Caller, new_account, new_integration, new_tenant

API = "/v2/interop"


@dataclass
class Writable:
    caller: Caller
    url: str
    method: str
    change: dict[str, Any]  # a change of a writable field, applied on top of what was read
    unsendable: tuple[str, ...] = ()  # read values a client may not write back as they are


def _schedule(server: Any, api: httpx.Client) -> Writable:
    _, actor = new_tenant(server, api)
    created = api.post(f"{API}/tenant/schedules", json={"hour": 3}, headers=actor.headers)
    url = f"{API}/tenant/schedules/{created.json()['data']['id']}"
    return Writable(actor, url, "PATCH", {"enabled": False})


def _rollover(server: Any, api: httpx.Client) -> Writable:
    _, actor = new_tenant(server, api)
    body = {
        "name": "summer",
        "start_date": "2027-06-01T00:00:00Z",
        "end_date": "2027-08-01T00:00:00Z",
        "type": "retain_deletes",
        "status": "scheduled",
        "cloud_id": actor.extra["cloud_id"],
        "actor_id": actor.extra["actor_id"],
    }
    created = api.post(f"{API}/tenant/rollovers", json=body, headers=actor.headers)
    url = f"{API}/tenant/rollovers/{created.json()['data']['id']}"
    return Writable(actor, url, "PUT", {"name": "winter"})


def _scoping_school(server: Any, api: httpx.Client) -> Writable:
    _, actor = new_tenant(server, api)
    body = {"data": [{"school_ref_id": "s1", "name": "North"}]}
    created = api.post(f"{API}/tenant/scoping/schools", json=body, headers=actor.headers)
    url = f"{API}/tenant/scoping/schools/{created.json()['data'][0]['id']}"
    return Writable(actor, url, "PUT", {"name": "South"})


def _integration(server: Any, api: httpx.Client) -> Writable:
    owner = new_account(server, api)
    integration = new_integration(api, owner)
    return Writable(owner, f"{API}/integrations/{integration['id']}", "PATCH", {"title": "T2"})


def _integration_version(server: Any, api: httpx.Client) -> Writable:
    owner = new_account(server, api)
    integration = new_integration(api, owner)
    url = f"{API}/integrations/{integration['id']}/versions/1.0"
    return Writable(owner, url, "PATCH", {"title": "T2"})


def _application(server: Any, api: httpx.Client) -> Writable:
    owner, actor = new_tenant(server, api)
    opened = api.post(
        f"{API}/tenants/{actor.extra['tenant_id']}/application/auth-session",
        headers=owner.headers,
    )
    assert opened.status_code == 200, opened.text
    # auth_state_pending reads "updating", and a client may only write confirmed or error.
    return Writable(
        actor, f"{API}/tenant/application", "PATCH", {"auth_message": "hi"}, ("auth_state_pending",)
    )


RESOURCES: dict[str, Callable[[Any, httpx.Client], Writable]] = {
    "schedule": _schedule,
    "rollover": _rollover,
    "scoping-school": _scoping_school,
    "integration": _integration,
    "integration-version": _integration_version,
    "application": _application,
}
# Fields a client cannot write, per resource: the concurrency counter, times, ids and values
# the server derives.
READ_ONLY = [
    ("schedule", "next_run_at"),
    ("schedule", "last_run_at"),
    ("schedule", "version"),
    ("rollover", "created_at"),
    ("rollover", "version"),
    ("scoping-school", "updated_at"),
    ("scoping-school", "tenant_id"),
    ("integration", "revision"),
    ("integration", "created_at"),
    ("integration-version", "auth_type"),
    ("integration-version", "blueprint_sha256"),
    ("application", "auth_state"),
    ("application", "version"),
    ("application", "created_at"),
]


def _read(api: httpx.Client, target: Writable) -> dict[str, Any]:
    response = api.get(target.url, headers=target.caller.headers)
    assert response.status_code == 200, response.text
    return dict(response.json()["data"])


def _respelled(value: Any) -> Any:
    """The same JSON value written differently: ids in upper case, times at +02:00."""
    if isinstance(value, dict):
        return {key: _respelled(item) for key, item in value.items()}
    if isinstance(value, str):
        try:
            return str(uuid.UUID(value)).upper()
        except ValueError:
            pass
        if value.endswith("Z"):
            moment = datetime.fromisoformat(value).astimezone(timezone(timedelta(hours=2)))
            return moment.isoformat()
    return value


def _other(value: Any) -> Any:
    """A different value of the same JSON type (a time for a null)."""
    if value is None:
        return "2000-01-01T00:00:00Z"
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 41
    try:
        return str(uuid.UUID(value)) and str(uuid.uuid4())
    except ValueError:
        pass
    if value.endswith("Z"):
        return "2000-01-01T00:00:00Z"
    return f"{value}-changed"


@pytest.mark.parametrize("resource", RESOURCES)
def test_what_was_read_may_be_sent_back_with_a_change(
    server, api: httpx.Client, resource: str
) -> None:
    target = RESOURCES[resource](server, api)
    read = _read(api, target)
    sendable = {name: value for name, value in read.items() if name not in target.unsendable}
    body = {**_respelled(sendable), **target.change}
    response = api.request(target.method, target.url, json=body, headers=target.caller.headers)
    assert response.status_code in (200, 204), response.text
    after = _read(api, target)
    assert {name: after[name] for name in target.change} == target.change


@pytest.mark.parametrize("resource", RESOURCES)
def test_a_write_answers_with_the_new_etag(server, api: httpx.Client, resource: str) -> None:
    target = RESOURCES[resource](server, api)
    before = api.get(target.url, headers=target.caller.headers).headers["etag"]
    # A PUT replaces the whole object; a PATCH sends only the change.
    body = {**_read(api, target), **target.change} if target.method == "PUT" else target.change
    response = api.request(target.method, target.url, json=body, headers=target.caller.headers)
    assert response.status_code in (200, 204), response.text
    after = api.get(target.url, headers=target.caller.headers).headers["etag"]
    assert response.headers["etag"] == after != before


@pytest.mark.parametrize(("resource", "field"), READ_ONLY)
def test_a_read_only_field_given_another_value_is_400_and_changes_nothing(
    server, api: httpx.Client, resource: str, field: str
) -> None:
    target = RESOURCES[resource](server, api)
    read = _read(api, target)
    assert field in read
    sendable = {name: value for name, value in read.items() if name not in target.unsendable}
    body = {**sendable, **target.change, field: _other(read[field])}
    response = api.request(target.method, target.url, json=body, headers=target.caller.headers)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "read_only_field"
    assert error["details"] == [{"field": f"body.{field}", "message": "read-only"}]
    assert _read(api, target) == read
