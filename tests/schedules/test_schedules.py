"""Schedules: create by hour, one collection schedule per hour, only `enabled` changes, run."""

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from factories import _database, json_time, new_tenant
from interop.schedules.models import Schedule

SCHEDULES = "/v2/interop/tenant/schedules"


def _create(api, actor, hour=3):
    return api.post(SCHEDULES, json={"hour": hour}, headers=actor.headers)


def test_create_schedule_is_an_enabled_collection_with_next_run(server, api: httpx.Client) -> None:
    _, actor = new_tenant(server, api)
    response = _create(api, actor, 5)
    assert response.status_code == 200
    schedule = response.json()["data"]
    assert schedule["type"] == "collection"
    assert schedule["hour"] == 5
    assert schedule["enabled"] is True
    assert schedule["last_run_at"] is None
    assert schedule["tenant_id"] == actor.extra["tenant_id"]
    next_run = datetime.fromisoformat(schedule["next_run_at"].replace("Z", "+00:00"))
    now = datetime.now(UTC)
    assert next_run.hour == 5
    assert (next_run.minute, next_run.second, next_run.microsecond) == (0, 0, 0)
    assert now < next_run <= now + timedelta(days=1)
    assert response.headers["etag"] == '"1"'


@pytest.mark.parametrize("hour", [-1, 24, "3", 3.5, None])
def test_bad_hour_is_400(server, api: httpx.Client, hour) -> None:
    _, actor = new_tenant(server, api)
    response = api.post(SCHEDULES, json={"hour": hour}, headers=actor.headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


def test_second_collection_schedule_at_an_hour_is_409(server, api: httpx.Client) -> None:
    _, actor = new_tenant(server, api)
    _create(api, actor, 7)
    response = _create(api, actor, 7)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "schedule_overlap"
    assert _create(api, actor, 8).status_code == 200
    assert api.get(f"{SCHEDULES}/count", headers=actor.headers).json() == 2


def test_concurrent_creates_at_one_hour_yield_one_schedule(server, api: httpx.Client) -> None:
    _, actor = new_tenant(server, api)

    def create(_: int) -> int:
        with httpx.Client(base_url=server.base_url, timeout=60) as client:
            return _create(client, actor, 9).status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = sorted(pool.map(create, range(10)))
    assert statuses == [200] + [409] * 9
    assert api.get(f"{SCHEDULES}/count", headers=actor.headers).json() == 1


def test_list_and_count(server, api: httpx.Client) -> None:
    _, actor = new_tenant(server, api)
    for hour in (1, 2, 3):
        _create(api, actor, hour)
    body = api.get(SCHEDULES, headers=actor.headers).json()
    assert [schedule["hour"] for schedule in body["data"]] == [1, 2, 3]
    count = api.get(f"{SCHEDULES}/count", headers=actor.headers)
    assert count.json() == 3
    assert count.text == "3"


def test_list_pages_walk_in_creation_order(server, api: httpx.Client) -> None:
    _, actor = new_tenant(server, api)
    for hour in (4, 1, 3):
        _create(api, actor, hour)
    _, other = new_tenant(server, api, integration="planner")
    _create(api, other, 2)
    hours, url = [], f"{SCHEDULES}?page_size=2"
    while url and len(hours) < 3:
        body = api.get(url, headers=actor.headers).json()
        hours.append([schedule["hour"] for schedule in body["data"]])
        url = body["paging"]["next"]
    assert hours == [[4, 1], [3]]
    past = api.get(SCHEDULES, params={"page": 5, "page_size": 2}, headers=actor.headers).json()
    assert past["data"] == []
    assert past["paging"]["prev"] == f"{SCHEDULES}?page=4&page_size=2"


def test_list_shows_each_stored_value_in_its_place(server, api: httpx.Client) -> None:
    """The list reads its own columns (a prebuilt statement), the GET by id the ORM row: both
    against values written by hand, the three times distinct, so a swapped column fails."""
    _, actor = new_tenant(server, api)
    created = _create(api, actor, 6).json()["data"]
    ran, skipped = (
        datetime(2026, 3, 4, 6, 0, 1, tzinfo=UTC),
        datetime(2026, 5, 6, 6, 0, 2, tzinfo=UTC),
    )
    with _database(server.database_url).transaction() as session:
        schedule = session.get_one(Schedule, uuid.UUID(created["id"]))
        schedule.enabled, schedule.last_run_at, schedule.last_skipped_at = False, ran, skipped
        schedule.last_skip_reason = "ingestion_pending"
        schedule.version = 7
        session.flush()
        created_at, updated_at = schedule.created_at, schedule.updated_at
    expected = {
        "id": created["id"],
        "tenant_id": actor.extra["tenant_id"],
        "type": "collection",
        "hour": 6,
        "enabled": False,
        "next_run_at": None,
        "last_run_at": "2026-03-04T06:00:01Z",
        "last_skipped_at": "2026-05-06T06:00:02Z",
        "last_skip_reason": "ingestion_pending",
        "created_at": json_time(created_at),
        "updated_at": json_time(updated_at),
        "version": 7,
    }
    assert created_at != updated_at
    listed = api.get(SCHEDULES, headers=actor.headers).json()["data"]
    assert listed == [expected]
    assert api.get(f"{SCHEDULES}/{created['id']}", headers=actor.headers).json()["data"] == expected


def test_patch_enabled_only(server, api: httpx.Client) -> None:
    _, actor = new_tenant(server, api)
    schedule = _create(api, actor).json()["data"]
    url = f"{SCHEDULES}/{schedule['id']}"
    assert api.patch(url, json={"enabled": False}, headers=actor.headers).status_code == 204
    body = api.get(url, headers=actor.headers)
    assert body.json()["data"]["enabled"] is False
    assert body.json()["data"]["next_run_at"] is None
    assert body.headers["etag"] == '"2"'
    same_hour = api.patch(url, json={"enabled": True, "hour": 3}, headers=actor.headers)
    assert same_hour.status_code == 204
    moved = api.patch(url, json={"hour": 4}, headers=actor.headers)
    assert moved.status_code == 400
    assert moved.json()["error"]["code"] == "read_only_field"
    assert api.get(url, headers=actor.headers).json()["data"]["hour"] == 3


def test_patch_may_send_back_a_next_run_at_shown_since_the_last_change(
    server, api: httpx.Client
) -> None:
    # next_run_at moves on at the hour without a write: a schedule read before its hour and
    # sent back after it was 400 read_only_field naming next_run_at.
    _, actor = new_tenant(server, api)
    created = _create(api, actor).json()["data"]
    url = f"{SCHEDULES}/{created['id']}"
    with _database(server.database_url).transaction() as session:
        last_change = datetime.now(UTC) - timedelta(days=2)
        session.get_one(Schedule, uuid.UUID(created["id"])).updated_at = last_change
    read = api.get(url, headers=actor.headers)
    shown = datetime.fromisoformat(read.json()["data"]["next_run_at"])
    etag = {**actor.headers, "If-Match": read.headers["etag"]}

    def send_back(next_run_at: datetime) -> httpx.Response:
        body = {**read.json()["data"], "next_run_at": json_time(next_run_at)}
        return api.patch(url, json=body, headers=etag)

    yesterdays = shown - timedelta(days=1)  # shown yesterday, after the last change
    assert send_back(yesterdays).status_code == 204
    # Never shown: a time off the hour, or a day's before the last change.
    for never_shown in (yesterdays + timedelta(seconds=1), shown - timedelta(days=3)):
        refused = send_back(never_shown)
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"]["code"] == "read_only_field"
        assert refused.json()["error"]["details"] == [
            {"field": "body.next_run_at", "message": "read-only"}
        ]


def test_patch_with_stale_if_match_is_409(server, api: httpx.Client) -> None:
    _, actor = new_tenant(server, api)
    schedule = _create(api, actor).json()["data"]
    response = api.patch(
        f"{SCHEDULES}/{schedule['id']}",
        json={"enabled": False},
        headers={**actor.headers, "If-Match": '"9"'},
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "concurrent_modification"


def test_delete_schedule(server, api: httpx.Client) -> None:
    _, actor = new_tenant(server, api)
    schedule = _create(api, actor).json()["data"]
    url = f"{SCHEDULES}/{schedule['id']}"
    assert api.delete(url, headers=actor.headers).status_code == 204
    assert api.get(url, headers=actor.headers).status_code == 404
    assert api.delete(url, headers=actor.headers).status_code == 404


def test_run_queues_a_scheduled_on_demand_ingestion(server, api: httpx.Client) -> None:
    _, actor = new_tenant(server, api)
    schedule = _create(api, actor).json()["data"]
    response = api.post(f"{SCHEDULES}/{schedule['id']}/run", headers=actor.headers)
    assert response.status_code == 204
    assert response.content == b""
    ingestions = api.get("/v2/interop/ingestions", headers=actor.headers).json()["data"]
    assert len(ingestions) == 1
    ingestion = ingestions[0]
    assert ingestion["state"] == "scheduled"
    assert ingestion["trigger"] == "on_demand"
    assert ingestion["type"] == "collection"
    assert ingestion["schedule_id"] == schedule["id"]
    assert ingestion["stats"] == {
        "records_read": 0,
        "created": 0,
        "updated": 0,
        "deleted": 0,
        "rejected": 0,
    }


@pytest.mark.parametrize("body", [None, {}, {"anything": 1}])
def test_run_accepts_an_optional_body(server, api: httpx.Client, body) -> None:
    _, actor = new_tenant(server, api)
    schedule = _create(api, actor).json()["data"]
    kwargs = {} if body is None else {"json": body}
    response = api.post(f"{SCHEDULES}/{schedule['id']}/run", headers=actor.headers, **kwargs)
    assert response.status_code == 204


def test_run_with_a_pending_ingestion_is_409_naming_it(server, api: httpx.Client) -> None:
    _, actor = new_tenant(server, api)
    schedule = _create(api, actor).json()["data"]
    api.post(f"{SCHEDULES}/{schedule['id']}/run", headers=actor.headers)
    pending = api.get("/v2/interop/ingestions", headers=actor.headers).json()["data"][0]
    response = api.post(f"{SCHEDULES}/{schedule['id']}/run", headers=actor.headers)
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "ingestion_pending"
    assert error["details"] == {"ingestion_id": pending["id"]}
    assert api.get("/v2/interop/ingestions/count", headers=actor.headers).json() == 1


def test_run_a_disabled_schedule_is_schedule_paused(server, api: httpx.Client) -> None:
    _, actor = new_tenant(server, api)
    schedule = _create(api, actor).json()["data"]
    api.patch(f"{SCHEDULES}/{schedule['id']}", json={"enabled": False}, headers=actor.headers)
    response = api.post(f"{SCHEDULES}/{schedule['id']}/run", headers=actor.headers)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "schedule_paused"
    assert api.get("/v2/interop/ingestions/count", headers=actor.headers).json() == 0


def test_run_a_delivery_schedule_is_not_runnable(server, api: httpx.Client) -> None:
    from sqlalchemy import create_engine, text

    _, actor = new_tenant(server, api)
    schedule = _create(api, actor).json()["data"]
    # Delivery schedules are not created through the API; make one the way the engine would.
    engine = create_engine(server.database_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE schedules SET type = 'delivery' WHERE hour = 3"))
    engine.dispose()
    response = api.post(f"{SCHEDULES}/{schedule['id']}/run", headers=actor.headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "not_runnable"


def test_two_concurrent_runs_yield_one_204_and_one_409(server, api: httpx.Client) -> None:
    _, actor = new_tenant(server, api)
    first = _create(api, actor, 1).json()["data"]
    second = _create(api, actor, 2).json()["data"]

    def run(schedule_id: str) -> int:
        with httpx.Client(base_url=server.base_url, timeout=60) as client:
            return client.post(f"{SCHEDULES}/{schedule_id}/run", headers=actor.headers).status_code

    for _ in range(3):
        with ThreadPoolExecutor(max_workers=2) as pool:
            statuses = sorted(pool.map(run, [first["id"], second["id"]]))
        assert statuses == [204, 409]
        assert api.get("/v2/interop/ingestions/count", headers=actor.headers).json() >= 1
        # Let the next round race again: finish the pending ingestion as the engine would.
        _finish_pending(server)


def _finish_pending(server) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(server.database_url)
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE ingestions SET state = 'success' WHERE state = 'scheduled'")
        )
    engine.dispose()


def _race(server, calls: list[tuple[str, str, dict]]) -> list[tuple[str, int, str]]:
    """Send every (method, url, headers) at once; (method, status, error code) each."""

    def send(call: tuple[str, str, dict]) -> tuple[str, int, str]:
        method, url, headers = call
        with httpx.Client(base_url=server.base_url, timeout=60) as client:
            response = client.request(method, url, headers=headers)
        return (
            method,
            response.status_code,
            response.json()["error"]["code"] if (response.is_error) else "",
        )

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(send, calls))


@pytest.mark.parametrize("deleted", ["schedule", "cloud"])
def test_runs_racing_a_delete_are_queued_or_404(server, api: httpx.Client, deleted) -> None:
    # The run read its schedule without holding it: on PostgreSQL, a delete of the schedule
    # (or of the cloud, and the tenant with it) that committed meanwhile made the new
    # ingestion's foreign key fail, a 500.
    for _ in range(6):
        owner, actor = new_tenant(server, api, integration=f"gradebook-{uuid.uuid4().hex[:8]}")
        schedule = _create(api, actor).json()["data"]
        target = (
            f"{SCHEDULES}/{schedule['id']}"
            if deleted == "schedule"
            else f"/v2/interop/clouds/{actor.extra['cloud_id']}"
        )
        deleter = actor if deleted == "schedule" else owner
        run = ("POST", f"{SCHEDULES}/{schedule['id']}/run", actor.headers)
        results = _race(server, [("DELETE", target, deleter.headers), run, run, run])
        assert results[0] == ("DELETE", 204, ""), results
        runs = sorted(result[1:] for result in results[1:])
        # The cloud's delete revokes the actor's token: a run that comes after it is 401.
        allowed = {
            (204, ""),
            (401, "invalid_token"),
            (404, "not_found"),
            (409, "ingestion_pending"),
        }
        assert set(runs) <= allowed, runs
        # An ingestion the race queued went with the cloud, or outlived its schedule.
        if deleted == "schedule" and (204, "") in runs:
            assert api.get("/v2/interop/ingestions/count", headers=actor.headers).json() == 1


def test_creates_racing_the_cloud_delete_are_created_or_404(server, api: httpx.Client) -> None:
    # A create whose tenant went with its cloud meanwhile failed the schedule's foreign key,
    # which was taken for the hour's unique index: 409 schedule_overlap, at an hour the
    # tenant had no schedule for.
    for _ in range(6):
        owner, actor = new_tenant(server, api, integration=f"gradebook-{uuid.uuid4().hex[:8]}")
        with ThreadPoolExecutor(max_workers=5) as pool:
            deleted = pool.submit(
                api.delete, f"/v2/interop/clouds/{actor.extra['cloud_id']}", headers=owner.headers
            )
            created = list(pool.map(_create_apart, [server] * 4, [actor] * 4, range(4)))
        assert deleted.result().status_code == 204
        allowed = {(200, ""), (401, "invalid_token"), (404, "not_found")}
        assert set(created) <= allowed, created


def _create_apart(server, actor, hour: int) -> tuple[int, str]:
    with httpx.Client(base_url=server.base_url, timeout=60) as client:
        response = _create(client, actor, hour)
    return response.status_code, response.json()["error"]["code"] if response.is_error else ""
