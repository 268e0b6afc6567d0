"""Rollovers: validation, overlap (also under concurrency), sorting, status and If-Match rules."""

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from factories import ONEROSTER_MINIMAL, install_connector, new_tenant

ROLLOVERS = "/v2/interop/tenant/rollovers"
BASE = datetime(2027, 6, 1, tzinfo=UTC)


def _day(offset: int) -> str:
    return (BASE + timedelta(days=offset)).isoformat().replace("+00:00", "Z")


def _body(actor, start=0, end=10, **overrides):
    return {
        "name": "summer",
        "start_date": _day(start),
        "end_date": _day(end),
        "type": "suspend_collection",
        "status": "scheduled",
        "cloud_id": actor.extra["cloud_id"],
        **overrides,
    }


def _create(api, actor, **kwargs):
    return api.post(ROLLOVERS, json=_body(actor, **kwargs), headers=actor.headers)


def test_create_rollover(server, api: httpx.Client) -> None:
    _, actor = new_tenant(server, api)
    response = _create(api, actor, actor_id=actor.extra["actor_id"], metadata={"year": 2027})
    assert response.status_code == 200
    rollover = response.json()["data"]
    assert rollover["name"] == "summer"
    assert rollover["start_date"] == _day(0)
    assert rollover["end_date"] == _day(10)
    assert rollover["type"] == "suspend_collection"
    assert rollover["status"] == "scheduled"
    assert rollover["metadata"] == {"year": 2027}
    assert rollover["actor_id"] == actor.extra["actor_id"]
    assert rollover["tenant_id"] == actor.extra["tenant_id"]
    assert response.headers["etag"] == '"1"'


def test_end_before_start_is_400(server, api: httpx.Client) -> None:
    _, actor = new_tenant(server, api)
    for start, end in [(5, 5), (6, 5)]:
        response = _create(api, actor, start=start, end=end)
        assert response.status_code == 400
        assert response.json()["error"]["details"][0]["field"] == "body.end_date"


def test_cloud_must_be_the_tenants(server, api: httpx.Client) -> None:
    owner, actor = new_tenant(server, api)
    _, other = new_tenant(server, api, owner=owner)
    response = _create(api, actor, cloud_id=other.extra["cloud_id"])
    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["field"] == "body.cloud_id"


def test_actor_must_be_of_the_cloud(server, api: httpx.Client) -> None:
    owner, actor = new_tenant(server, api)
    _, other = new_tenant(server, api, owner=owner)
    response = _create(api, actor, actor_id=other.extra["actor_id"])
    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["field"] == "body.actor_id"


@pytest.mark.parametrize("status", ["completed", "cancelled"])
def test_new_rollover_is_scheduled_or_active(server, api: httpx.Client, status: str) -> None:
    _, actor = new_tenant(server, api)
    assert _create(api, actor, status=status).status_code == 400


@pytest.mark.parametrize(
    "field,value",
    [
        ("type", "freeze"),
        ("status", "paused"),
        ("start_date", "June 1st"),
        ("start_date", "2027-06-01T00:00:00"),
    ],
)
def test_bad_enum_or_date_is_400(server, api: httpx.Client, field: str, value: str) -> None:
    _, actor = new_tenant(server, api)
    response = api.post(ROLLOVERS, json=_body(actor, **{field: value}), headers=actor.headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


def test_a_time_sent_with_an_offset_is_answered_in_utc(server, api: httpx.Client) -> None:
    _, actor = new_tenant(server, api)
    # 2027-06-01T02:00:00+02:00 is BASE; the answer is the stored instant, with Z.
    created = _create(api, actor, start_date="2027-06-01T02:00:00+02:00")
    assert created.status_code == 200, created.text
    assert created.json()["data"]["start_date"] == _day(0)
    url = f"{ROLLOVERS}/{created.json()['data']['id']}"
    body = _body(actor, end_date="2027-06-11T05:30:00+05:30")
    replaced = api.put(url, json=body, headers=actor.headers)
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["data"]["end_date"] == _day(10)
    assert api.get(url, headers=actor.headers).json()["data"] == replaced.json()["data"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("start_date", "0001-01-01T00:00:00+05:00"), ("end_date", "9999-12-31T23:00:00-05:00")],
)
def test_a_time_outside_years_1_to_9999_in_utc_is_400(
    server, api: httpx.Client, field: str, value: str
) -> None:
    _, actor = new_tenant(server, api)
    response = api.post(ROLLOVERS, json=_body(actor, **{field: value}), headers=actor.headers)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["details"][0]["field"] == f"body.{field}"
    since = api.get(
        "/v2/interop/data/users", params={"changed_since": value}, headers=actor.headers
    )
    assert since.status_code == 400, since.text
    assert since.json()["error"]["details"][0]["field"] == "query.changed_since"


@pytest.mark.parametrize(("start", "end"), [(5, 15), (-5, 1), (2, 3), (-10, 20)])
def test_overlapping_rollover_is_409(server, api: httpx.Client, start: int, end: int) -> None:
    _, actor = new_tenant(server, api)
    first = _create(api, actor).json()["data"]
    response = _create(api, actor, start=start, end=end)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "rollover_overlap"
    assert response.json()["error"]["details"] == {"rollover_id": first["id"]}


def test_adjacent_ranges_do_not_overlap(server, api: httpx.Client) -> None:
    _, actor = new_tenant(server, api)
    _create(api, actor, start=0, end=10)
    assert _create(api, actor, start=10, end=20).status_code == 200
    assert _create(api, actor, start=-10, end=0).status_code == 200


def test_an_active_rollover_whose_window_begins_later_overlaps_from_now(
    server, api: httpx.Client
) -> None:
    # It applies from now (the client activated it early): a rollover between now and its
    # start_date would apply at the same time, and the state could name only one of them.
    _, actor = new_tenant(server, api)
    early = _create(api, actor, start=20, end=30, status="active").json()["data"]
    response = _create(api, actor, start=0, end=10)
    assert response.status_code == 409
    assert response.json()["error"]["details"] == {"rollover_id": early["id"]}
    assert _create(api, actor, start=30, end=40).status_code == 200
    assert _create(api, actor, start=-2000, end=-1990).status_code == 200  # over before now


def test_putting_a_rollover_active_early_overlaps_those_before_its_window(
    server, api: httpx.Client
) -> None:
    _, actor = new_tenant(server, api)
    first = _create(api, actor, start=0, end=10).json()["data"]
    later = _create(api, actor, start=20, end=30).json()["data"]
    url = f"{ROLLOVERS}/{later['id']}"
    response = api.put(
        url, json=_body(actor, start=20, end=30, status="active"), headers=actor.headers
    )
    assert response.status_code == 409
    assert response.json()["error"]["details"] == {"rollover_id": first["id"]}
    assert api.get(url, headers=actor.headers).json()["data"]["status"] == "scheduled"


def test_cancelled_rollovers_do_not_count_for_overlap(server, api: httpx.Client) -> None:
    _, actor = new_tenant(server, api)
    first = _create(api, actor).json()["data"]
    cancelled = api.put(
        f"{ROLLOVERS}/{first['id']}", json=_body(actor, status="cancelled"), headers=actor.headers
    )
    assert cancelled.status_code == 200
    assert _create(api, actor, start=2, end=8).status_code == 200


def test_other_tenants_rollovers_do_not_overlap(server, api: httpx.Client) -> None:
    owner, actor = new_tenant(server, api)
    _, other = new_tenant(server, api, owner=owner)
    _create(api, actor)
    assert _create(api, other).status_code == 200


def test_put_replaces_and_checks_overlap_against_others(server, api: httpx.Client) -> None:
    _, actor = new_tenant(server, api)
    first = _create(api, actor, start=0, end=10).json()["data"]
    _create(api, actor, start=20, end=30)
    url = f"{ROLLOVERS}/{first['id']}"
    moved = api.put(url, json=_body(actor, start=1, end=12, name="moved"), headers=actor.headers)
    assert moved.status_code == 200
    assert moved.json()["data"]["name"] == "moved"
    assert moved.json()["data"]["version"] == 2
    clash = api.put(url, json=_body(actor, start=5, end=25), headers=actor.headers)
    assert clash.status_code == 409
    assert api.get(url, headers=actor.headers).json()["data"]["end_date"] == _day(12)


def test_put_with_stale_if_match_is_409(server, api: httpx.Client) -> None:
    _, actor = new_tenant(server, api)
    first = _create(api, actor).json()["data"]
    response = api.put(
        f"{ROLLOVERS}/{first['id']}",
        json=_body(actor, name="x"),
        headers={**actor.headers, "If-Match": '"2"'},
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "concurrent_modification"
    ok = api.put(
        f"{ROLLOVERS}/{first['id']}",
        json=_body(actor, name="x"),
        headers={**actor.headers, "If-Match": '"1"'},
    )
    assert ok.status_code == 200


def test_delete_active_rollover_is_409(server, api: httpx.Client) -> None:
    _, actor = new_tenant(server, api)
    active = _create(api, actor, status="active").json()["data"]
    response = api.delete(f"{ROLLOVERS}/{active['id']}", headers=actor.headers)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "rollover_active"
    scheduled = _create(api, actor, start=20, end=30).json()["data"]
    assert api.delete(f"{ROLLOVERS}/{scheduled['id']}", headers=actor.headers).status_code == 204
    assert api.get(f"{ROLLOVERS}/count", headers=actor.headers).json() == 1


def test_a_scheduled_rollover_already_in_effect_cannot_be_deleted(server, api: httpx.Client):
    # Past its start, before the scheduler's pass that makes it active: the engine applies it
    # and the tenant state names it, but DELETE went by its status alone.
    _, actor = new_tenant(server, api)
    now = datetime.now(UTC)
    body = {
        **_body(actor),
        "start_date": (now - timedelta(hours=1)).isoformat(),
        "end_date": (now + timedelta(days=1)).isoformat(),
    }
    begun = api.post(ROLLOVERS, json=body, headers=actor.headers).json()["data"]
    assert begun["status"] == "scheduled"
    response = api.delete(f"{ROLLOVERS}/{begun['id']}", headers=actor.headers)
    assert response.status_code == 409, response.text
    assert response.json()["error"]["code"] == "rollover_active"
    assert api.get(f"{ROLLOVERS}/count", headers=actor.headers).json() == 1


def test_sort_by_several_keys(server, api: httpx.Client) -> None:
    _, actor = new_tenant(server, api)
    _create(api, actor, name="b", start=0, end=1, type="retain_deletes")
    _create(api, actor, name="a", start=2, end=3)
    _create(api, actor, name="c", start=4, end=5, type="retain_deletes")

    def names(sort: str) -> list[str]:
        response = api.get(ROLLOVERS, params={"sort": sort}, headers=actor.headers)
        assert response.status_code == 200
        return [rollover["name"] for rollover in response.json()["data"]]

    assert names("name") == ["a", "b", "c"]
    assert names("-name") == ["c", "b", "a"]
    assert names("-start_date") == ["c", "a", "b"]
    # type ascending: retain_deletes < suspend_collection; then name descending.
    assert names("type,-name") == ["c", "b", "a"]
    assert names("-type,-name") == ["a", "c", "b"]


def test_unknown_sort_field_is_400(server, api: httpx.Client) -> None:
    _, actor = new_tenant(server, api)
    response = api.get(ROLLOVERS, params={"sort": "-colour"}, headers=actor.headers)
    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["field"] == "query.sort"


def test_fifty_concurrent_overlapping_creates_yield_exactly_one(server, api: httpx.Client) -> None:
    _, actor = new_tenant(server, api)

    def create(index: int) -> int:
        with httpx.Client(base_url=server.base_url, timeout=120) as client:
            body = _body(actor, start=index % 5, end=20 + index % 7, name=f"r{index}")
            return client.post(ROLLOVERS, json=body, headers=actor.headers).status_code

    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(create, range(50)))
    assert statuses.count(200) == 1
    assert statuses.count(409) == 49
    assert api.get(f"{ROLLOVERS}/count", headers=actor.headers).json() == 1


ranges = st.lists(
    st.tuples(st.integers(0, 60), st.integers(1, 30), st.booleans()), min_size=1, max_size=8
)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ranges)
def test_stored_rollovers_never_overlap(server, api: httpx.Client, spans) -> None:
    # Examples share the test's fixtures: each gets a tenant of its own.
    _, actor = new_tenant(server, api, integration=f"gradebook-{uuid.uuid4().hex[:8]}")
    for start, length, cancel_after in spans:
        response = _create(api, actor, start=start, end=start + length)
        assert response.status_code in (200, 409)
        if response.status_code == 200 and cancel_after:
            rollover = response.json()["data"]
            api.put(
                f"{ROLLOVERS}/{rollover['id']}",
                json=_body(actor, start=start, end=start + length, status="cancelled"),
                headers=actor.headers,
            )
    stored = api.get(ROLLOVERS, headers=actor.headers).json()["data"]
    live = [r for r in stored if r["status"] != "cancelled"]
    for index, left in enumerate(live):
        for right in live[index + 1 :]:
            assert not (
                left["start_date"] < right["end_date"] and right["start_date"] < left["end_date"]
            )


def _send(server, request: tuple[str, str, dict | None, dict]) -> tuple[int, str]:
    method, url, body, headers = request
    with httpx.Client(base_url=server.base_url, timeout=60) as client:
        response = client.request(method, url, json=body, headers=headers)
    return response.status_code, response.json()["error"]["code"] if response.is_error else ""


@pytest.mark.parametrize("deleted", ["cloud", "actor"])
def test_creates_racing_the_delete_of_the_tenant_are_created_or_refused_cleanly(
    server, api: httpx.Client, deleted
) -> None:
    # A create locked the tenant, then (inserting the rollover) met its cloud and actor,
    # while the cloud's delete (or the actor's uninstall) locked those, then reached the
    # tenant: on PostgreSQL the two deadlocked, and one was answered 503
    # database_unavailable.
    for round_ in range(6):
        owner, actor = new_tenant(server, api, integration=f"gradebook-{uuid.uuid4().hex[:8]}")
        cloud = f"/v2/interop/clouds/{actor.extra['cloud_id']}"
        target = cloud if deleted == "cloud" else f"{cloud}/actors/{actor.extra['actor_id']}"
        requests = [("DELETE", target, None, owner.headers)]
        for index in range(1, 5):
            body = _body(actor, start=10 * index, end=10 * index + 5, name=f"r{index}")
            requests.append(
                ("POST", ROLLOVERS, {**body, "actor_id": actor.extra["actor_id"]}, actor.headers)
            )
        with ThreadPoolExecutor(max_workers=len(requests)) as pool:
            results = list(pool.map(lambda request: _send(server, request), requests))
        assert results[0] == (204, ""), (round_, results)
        # A create that comes after the delete meets a revoked token (401) or no tenant.
        assert set(results[1:]) <= {(200, ""), (401, "invalid_token"), (404, "not_found")}, (
            round_,
            results,
        )


def test_creates_naming_a_connector_being_uninstalled_are_created_or_400(
    server, api: httpx.Client
) -> None:
    # The create read the connector without holding it: an uninstall committed meanwhile made
    # the new rollover's foreign key to it fail.
    for round_ in range(6):
        owner, actor = new_tenant(server, api, integration=f"gradebook-{uuid.uuid4().hex[:8]}")
        cloud = f"/v2/interop/clouds/{actor.extra['cloud_id']}"
        connector = install_connector(api, owner, actor.extra["cloud_id"], str(ONEROSTER_MINIMAL))
        requests = [("DELETE", f"{cloud}/actors/{connector['id']}", None, owner.headers)]
        for index in range(1, 5):
            body = _body(actor, start=10 * index, end=10 * index + 5, name=f"r{index}")
            requests.append(
                ("POST", ROLLOVERS, {**body, "actor_id": connector["id"]}, actor.headers)
            )
        with ThreadPoolExecutor(max_workers=len(requests)) as pool:
            results = list(pool.map(lambda request: _send(server, request), requests))
        assert results[0] == (204, ""), (round_, results)
        assert set(results[1:]) <= {(200, ""), (400, "invalid_request")}, (round_, results)
