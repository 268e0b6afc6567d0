"""An actor of tenant A never reaches tenant B's objects: by id, in lists, in counts, on writes.

Both tenants belong to the same account and integration, the closest neighbours there are.
"""

from typing import Any

import httpx
import pytest

from factories import Caller, new_tenant

T = "/v2/interop/tenant"


@pytest.fixture
def tenants(server, api: httpx.Client) -> tuple[Caller, Caller, dict[str, str]]:
    owner, a = new_tenant(server, api)
    _, b = new_tenant(server, api, owner=owner)
    schedule = api.post(f"{T}/schedules", json={"hour": 2}, headers=b.headers).json()["data"]
    api.post(f"{T}/schedules/{schedule['id']}/run", headers=b.headers)
    ingestion = api.get("/v2/interop/ingestions", headers=b.headers).json()["data"][0]
    rollover = api.post(
        f"{T}/rollovers",
        headers=b.headers,
        json={
            "name": "b",
            "start_date": "2027-06-01T00:00:00Z",
            "end_date": "2027-07-01T00:00:00Z",
            "type": "suspend_collection",
            "status": "scheduled",
            "cloud_id": b.extra["cloud_id"],
        },
    ).json()["data"]
    school = api.post(
        f"{T}/scoping/schools", json={"data": [{"school_ref_id": "b"}]}, headers=b.headers
    ).json()["data"][0]
    course = api.post(
        f"{T}/scoping/courses", json={"data": [{"course_ref_id": "b"}]}, headers=b.headers
    ).json()["data"][0]
    ids = {
        "schedule": schedule["id"],
        "ingestion": ingestion["id"],
        "rollover": rollover["id"],
        "school": school["id"],
        "course": course["id"],
    }
    return a, b, ids


BY_ID: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", f"{T}/schedules/{{schedule}}", None),
    ("PATCH", f"{T}/schedules/{{schedule}}", {"enabled": False}),
    ("DELETE", f"{T}/schedules/{{schedule}}", None),
    ("POST", f"{T}/schedules/{{schedule}}/run", None),
    ("GET", "/v2/interop/ingestions/{ingestion}", None),
    ("GET", f"{T}/rollovers/{{rollover}}", None),
    ("DELETE", f"{T}/rollovers/{{rollover}}", None),
    ("GET", f"{T}/scoping/schools/{{school}}", None),
    ("PUT", f"{T}/scoping/schools/{{school}}", {"school_ref_id": "a"}),
    ("DELETE", f"{T}/scoping/schools/{{school}}", None),
    ("GET", f"{T}/scoping/courses/{{course}}", None),
    ("PUT", f"{T}/scoping/courses/{{course}}", {"course_ref_id": "a"}),
    ("DELETE", f"{T}/scoping/courses/{{course}}", None),
]
LISTS = [
    f"{T}/schedules",
    "/v2/interop/ingestions",
    f"{T}/rollovers",
    f"{T}/scoping/schools",
    f"{T}/scoping/courses",
]
COUNTS = [f"{T}/schedules/count", "/v2/interop/ingestions/count", f"{T}/rollovers/count"]


def _snapshot(api: httpx.Client, b: Caller) -> list[Any]:
    return [api.get(path, headers=b.headers).json()["data"] for path in LISTS]


@pytest.mark.parametrize(
    ("method", "template", "body"), BY_ID, ids=[f"{m} {t}" for m, t, _ in BY_ID]
)
def test_other_tenants_object_by_id_is_404_and_unchanged(
    api: httpx.Client, tenants, method: str, template: str, body
) -> None:
    a, b, ids = tenants
    before = _snapshot(api, b)
    response = api.request(method, template.format(**ids), json=body, headers=a.headers)
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "not_found"
    assert _snapshot(api, b) == before


def test_rollover_put_on_other_tenant_is_404(api: httpx.Client, tenants) -> None:
    a, b, ids = tenants
    before = _snapshot(api, b)
    response = api.put(
        f"{T}/rollovers/{ids['rollover']}",
        headers=a.headers,
        json={
            "name": "x",
            "start_date": "2027-06-01T00:00:00Z",
            "end_date": "2027-07-01T00:00:00Z",
            "type": "suspend_collection",
            "status": "cancelled",
            "cloud_id": a.extra["cloud_id"],
        },
    )
    assert response.status_code == 404
    assert _snapshot(api, b) == before


@pytest.mark.parametrize("path", LISTS)
def test_lists_hold_only_own_objects(api: httpx.Client, tenants, path: str) -> None:
    a, _, _ = tenants
    assert api.get(path, headers=a.headers).json()["data"] == []


@pytest.mark.parametrize("path", COUNTS)
def test_counts_hold_only_own_objects(api: httpx.Client, tenants, path: str) -> None:
    a, _, _ = tenants
    assert api.get(path, headers=a.headers).json() == 0


def test_bulk_writes_of_a_do_not_touch_b(api: httpx.Client, tenants) -> None:
    a, b, _ = tenants
    before = _snapshot(api, b)
    for kind, entry in [("schools", {"school_ref_id": "b"}), ("courses", {"course_ref_id": "b"})]:
        assert (
            api.post(f"{T}/scoping/{kind}", json={"data": [entry]}, headers=a.headers).status_code
            == 200
        )
        assert api.delete(f"{T}/scoping/{kind}", headers=a.headers).status_code == 204
    # Same hour and overlapping dates as B's: no conflict across tenants.
    assert api.post(f"{T}/schedules", json={"hour": 2}, headers=a.headers).status_code == 200
    assert _snapshot(api, b) == before
