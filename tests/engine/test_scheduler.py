"""The scheduler fires each collection schedule once per slot, and rollovers change what a
collection does inside their window. Time is passed in, so slots are exact."""

import shutil
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from factories import (
    ONEROSTER_MINIMAL,
    Caller,
    collect,
    ingestion,
    listed,
    new_collecting_tenant,
    new_tenant,
    queue_collection,
    run_worker,
    stored,
)
from interop.db import Database
from interop.engine.scheduler import latest_slot, tick
from interop.ingestions.models import Ingestion
from interop.rollovers.models import Rollover
from interop.schedules.models import Schedule

NOON = datetime(2030, 3, 4, 12, 0, tzinfo=UTC)


def schedule(api, actor: Caller, hour: int) -> dict:
    response = api.post("/v2/interop/tenant/schedules", json={"hour": hour}, headers=actor.headers)
    assert response.status_code == 200, response.text
    return dict(response.json()["data"])


def backdate(server, schedule_id: str, days: int = 2) -> None:
    database = Database(server.database_url)
    with database.transaction() as session:
        row = session.get(Schedule, uuid.UUID(schedule_id))
        row.created_at = NOON - timedelta(days=days)
    database.dispose()


def scheduled_ingestions(server) -> list[Ingestion]:
    database = Database(server.database_url)
    with database.transaction(write=False) as session:
        rows = list(session.scalars(select(Ingestion).where(Ingestion.trigger == "schedule")))
    database.dispose()
    return rows


def tick_at(server, now: datetime) -> int:
    database = Database(server.database_url)
    try:
        return tick(database, now)
    finally:
        database.dispose()


def test_latest_slot_is_the_newest_hour_not_after_now():
    assert latest_slot(12, NOON) == NOON
    assert latest_slot(11, NOON) == NOON - timedelta(hours=1)
    assert latest_slot(13, NOON) == NOON - timedelta(hours=23)


def test_a_schedule_fires_once_at_its_hour(server, api):
    _, actor = new_tenant(server, api)
    created = schedule(api, actor, 12)
    backdate(server, created["id"])
    assert tick_at(server, NOON + timedelta(minutes=1)) == 1
    assert tick_at(server, NOON + timedelta(minutes=2)) == 0
    [queued] = scheduled_ingestions(server)
    assert queued.slot_at == NOON
    assert queued.state == "scheduled"
    got = api.get(f"/v2/interop/tenant/schedules/{created['id']}", headers=actor.headers).json()
    assert got["data"]["last_run_at"] is not None


def test_a_slot_missed_by_less_than_an_hour_runs_late_once(server, api):
    _, actor = new_tenant(server, api)
    backdate(server, schedule(api, actor, 12)["id"])
    assert tick_at(server, NOON + timedelta(minutes=59)) == 1
    assert tick_at(server, NOON + timedelta(minutes=59, seconds=30)) == 0


def test_an_older_missed_slot_is_skipped_and_the_skip_is_visible(server, api):
    _, actor = new_tenant(server, api)
    created = schedule(api, actor, 10)
    backdate(server, created["id"])
    assert tick_at(server, NOON + timedelta(minutes=5)) == 0
    assert scheduled_ingestions(server) == []
    got = api.get(f"/v2/interop/tenant/schedules/{created['id']}", headers=actor.headers).json()
    assert got["data"]["last_skip_reason"] == "missed"
    assert got["data"]["last_skipped_at"] is not None
    assert got["data"]["last_run_at"] is None


def test_a_slot_is_skipped_while_the_tenant_has_a_pending_ingestion(server, api):
    _, actor = new_tenant(server, api)
    created = schedule(api, actor, 12)
    backdate(server, created["id"])
    queue_collection(api, actor)
    assert tick_at(server, NOON + timedelta(minutes=1)) == 0
    got = api.get(f"/v2/interop/tenant/schedules/{created['id']}", headers=actor.headers).json()
    assert got["data"]["last_skip_reason"] == "ingestion_pending"


@pytest.mark.parametrize(
    ("handled_at", "pending", "written"),
    [
        (NOON + timedelta(minutes=1), False, "last_run_at"),
        (NOON + timedelta(hours=2), False, "last_skipped_at"),
        (NOON + timedelta(minutes=1), True, "last_skipped_at"),
    ],
    ids=["fired", "missed", "ingestion_pending"],
)
def test_handling_a_slot_bumps_the_schedules_version(server, api, handled_at, pending, written):
    # The scheduler wrote the schedule and kept its version: the ETag stayed the same, and
    # what a client had read, sent back with it, was 400 read_only_field naming the fields
    # the scheduler wrote instead of 409.
    _, actor = new_tenant(server, api)
    created = schedule(api, actor, 12)
    backdate(server, created["id"])
    if pending:
        queue_collection(api, actor)
    url = f"/v2/interop/tenant/schedules/{created['id']}"
    before = api.get(url, headers=actor.headers)
    tick_at(server, handled_at)
    after = api.get(url, headers=actor.headers)
    assert after.json()["data"][written] is not None
    assert after.json()["data"]["version"] == before.json()["data"]["version"] + 1
    assert after.headers["etag"] != before.headers["etag"]
    stale = api.patch(
        url,
        json={**before.json()["data"], "enabled": False},
        headers={**actor.headers, "If-Match": before.headers["etag"]},
    )
    assert stale.status_code == 409, stale.text
    assert stale.json()["error"]["code"] == "concurrent_modification"
    fresh = api.patch(
        url,
        json={**after.json()["data"], "enabled": False},
        headers={**actor.headers, "If-Match": after.headers["etag"]},
    )
    assert fresh.status_code == 204, fresh.text


def test_a_schedule_created_after_its_slot_waits_for_the_next_day(server, api):
    _, actor = new_tenant(server, api)
    schedule(api, actor, 12)  # created now, in 2026: the 2030 noon slot is after it
    database = Database(server.database_url)
    with database.transaction() as session:
        for row in session.scalars(select(Schedule)):
            row.created_at = NOON + timedelta(minutes=30)
    database.dispose()
    assert tick_at(server, NOON + timedelta(minutes=40)) == 0
    assert tick_at(server, NOON + timedelta(days=1, minutes=1)) == 1


def test_disabled_schedules_do_not_fire(server, api):
    _, actor = new_tenant(server, api)
    created = schedule(api, actor, 12)
    backdate(server, created["id"])
    api.patch(
        f"/v2/interop/tenant/schedules/{created['id']}",
        json={"enabled": False},
        headers=actor.headers,
    )
    assert tick_at(server, NOON + timedelta(minutes=1)) == 0


def test_a_re_enabled_schedule_first_fires_at_its_next_hour(server, api):
    # Disabled across its hour and enabled again within the hour after: the scheduler took the
    # slot for a missed one (it runs those up to an hour late) and fired it at once, while
    # next_run_at said tomorrow.
    _, actor = new_tenant(server, api)
    now = datetime.now(UTC)
    created = schedule(api, actor, now.hour)
    database = Database(server.database_url)
    with database.transaction() as session:
        session.get(Schedule, uuid.UUID(created["id"])).created_at = now - timedelta(days=2)
    database.dispose()
    url = f"/v2/interop/tenant/schedules/{created['id']}"
    for enabled in (False, True):
        assert api.patch(url, json={"enabled": enabled}, headers=actor.headers).status_code == 204
    next_run_at = api.get(url, headers=actor.headers).json()["data"]["next_run_at"]
    assert datetime.fromisoformat(next_run_at) > now
    assert tick_at(server, datetime.now(UTC)) == 0
    assert tick_at(server, latest_slot(now.hour, now) + timedelta(days=1, minutes=1)) == 1


def test_racing_schedulers_fire_a_slot_exactly_once(server, api):
    for _ in range(3):
        _, actor = new_tenant(server, api, integration=f"race-{uuid.uuid4().hex[:6]}")
        backdate(server, schedule(api, actor, 12)["id"])
    fired: list[int] = []
    barrier = threading.Barrier(8)

    def racer() -> None:
        database = Database(server.database_url)
        barrier.wait()
        fired.append(tick(database, NOON + timedelta(minutes=1)))
        database.dispose()

    threads = [threading.Thread(target=racer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(fired) == 3
    assert len(scheduled_ingestions(server)) == 3


# A scheduler process of its own: waits for a shared start time, ticks once, prints its count.
SCHEDULER_PROCESS = """
import sys, time
from datetime import datetime
import interop.models  # every table, for the foreign keys
from interop.db import Database
from interop.engine.scheduler import tick
url, start, now = sys.argv[1], float(sys.argv[2]), datetime.fromisoformat(sys.argv[3])
database = Database(url)
database.ping()
time.sleep(max(0.0, start - time.time()))
print(tick(database, now))
database.dispose()
"""


def test_two_scheduler_processes_fire_a_slot_exactly_once(server, api):
    for _ in range(3):
        _, actor = new_tenant(server, api, integration=f"procs-{uuid.uuid4().hex[:6]}")
        backdate(server, schedule(api, actor, 12)["id"])
    start = time.time() + 3  # both processes connected and waiting by then
    now = (NOON + timedelta(minutes=1)).isoformat()
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", SCHEDULER_PROCESS, server.database_url, str(start), now],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=60) for process in processes]
    assert all(process.returncode == 0 for process in processes), outputs
    assert sum(int(stdout.strip()) for stdout, _ in outputs) == 3
    assert len(scheduled_ingestions(server)) == 3


def rollover_body(
    actor: Caller, kind: str, start: datetime, end: datetime, status: str = "scheduled"
) -> dict:
    return {
        "name": kind,
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
        "type": kind,
        "status": status,
        "cloud_id": actor.extra["cloud_id"],
    }


def rollover(
    api, actor: Caller, kind: str, start: datetime, end: datetime, status: str = "scheduled"
) -> dict:
    response = api.post(
        "/v2/interop/tenant/rollovers",
        json=rollover_body(actor, kind, start, end, status),
        headers=actor.headers,
    )
    assert response.status_code == 200, response.text
    return dict(response.json()["data"])


def active_rollover_id(api, actor: Caller) -> str | None:
    state = api.get("/v2/interop/tenant/state", headers=actor.headers).json()["data"]
    return state["active_rollover_id"]


def rollover_status(server, rollover_id: str) -> str:
    return str(stored(server, Rollover, rollover_id, "status"))


def test_the_engine_moves_rollover_statuses_at_their_dates(server, api):
    _, actor = new_tenant(server, api)
    window = rollover(api, actor, "retain_deletes", NOON, NOON + timedelta(days=3))
    tick_at(server, NOON - timedelta(minutes=1))
    assert rollover_status(server, window["id"]) == "scheduled"
    tick_at(server, NOON)
    assert rollover_status(server, window["id"]) == "active"
    tick_at(server, NOON + timedelta(days=3))
    assert rollover_status(server, window["id"]) == "completed"


def test_suspend_collection_cancels_collections_inside_its_window(server, api):
    _, actor = new_collecting_tenant(server, api, ONEROSTER_MINIMAL)
    now = datetime.now(UTC)
    rollover(api, actor, "suspend_collection", now - timedelta(days=1), now + timedelta(days=1))
    result = collect(server, api, actor, state=None)
    assert result["state"] == "cancelled"
    assert result["error"]["code"] == "collection_suspended"
    assert api.get("/v2/interop/data/users", headers=actor.headers).json()["data"] == []


def test_suspend_collection_outside_its_window_changes_nothing(server, api):
    _, actor = new_collecting_tenant(server, api, ONEROSTER_MINIMAL)
    now = datetime.now(UTC)
    rollover(api, actor, "suspend_collection", now + timedelta(days=1), now + timedelta(days=2))
    assert collect(server, api, actor, state=None)["state"] == "success"


def test_an_active_rollover_applies_from_now_though_its_window_begins_later(server, api):
    # A client activating a rollover early: the state named it while collections, which
    # followed the dates, ran and wrote as if there were none.
    _, actor = new_collecting_tenant(server, api, ONEROSTER_MINIMAL)
    now = datetime.now(UTC)
    early = rollover(
        api, actor, "suspend_collection", now + timedelta(days=1), now + timedelta(days=2), "active"
    )
    assert active_rollover_id(api, actor) == early["id"]
    result = collect(server, api, actor, state=None)
    assert result["state"] == "cancelled", result
    assert result["error"]["code"] == "collection_suspended"
    assert api.get("/v2/interop/data/users", headers=actor.headers).json()["data"] == []


def test_a_scheduled_rollover_past_its_start_applies_before_the_engine_activates_it(server, api):
    # Created (or moved) into its window between two scheduler passes: collections were
    # suspended by its dates while the state named no rollover.
    _, actor = new_collecting_tenant(server, api, ONEROSTER_MINIMAL)
    now = datetime.now(UTC)
    late = rollover(
        api, actor, "suspend_collection", now - timedelta(days=1), now + timedelta(days=1)
    )
    assert late["status"] == "scheduled"
    assert active_rollover_id(api, actor) == late["id"]
    assert collect(server, api, actor, state=None)["error"]["code"] == "collection_suspended"
    tick_at(server, now)
    assert rollover_status(server, late["id"]) == "active"
    assert active_rollover_id(api, actor) == late["id"]


def test_putting_a_rollover_active_applies_it_at_once_and_scheduled_again_waits(server, api):
    _, actor = new_collecting_tenant(server, api, ONEROSTER_MINIMAL)
    now = datetime.now(UTC)
    start, end = now + timedelta(days=1), now + timedelta(days=2)
    window = rollover(api, actor, "suspend_collection", start, end)
    url = f"/v2/interop/tenant/rollovers/{window['id']}"
    assert active_rollover_id(api, actor) is None

    body = rollover_body(actor, "suspend_collection", start, end, "active")
    assert api.put(url, json=body, headers=actor.headers).status_code == 200
    assert active_rollover_id(api, actor) == window["id"]
    suspended = queue_collection(api, actor)
    run_worker(server)
    assert ingestion(api, actor, suspended)["error"]["code"] == "collection_suspended"

    body = rollover_body(actor, "suspend_collection", start, end, "scheduled")
    assert api.put(url, json=body, headers=actor.headers).status_code == 200
    assert active_rollover_id(api, actor) is None
    ran = queue_collection(api, actor)
    run_worker(server)
    assert ingestion(api, actor, ran)["state"] == "success"


@pytest.mark.parametrize("status", ["completed", "cancelled"])
def test_a_rollover_put_completed_or_cancelled_inside_its_window_no_longer_applies(
    server, api, status
):
    _, actor = new_collecting_tenant(server, api, ONEROSTER_MINIMAL)
    now = datetime.now(UTC)
    start, end = now - timedelta(days=1), now + timedelta(days=1)
    window = rollover(api, actor, "suspend_collection", start, end, "active")
    body = rollover_body(actor, "suspend_collection", start, end, status)
    url = f"/v2/interop/tenant/rollovers/{window['id']}"
    assert api.put(url, json=body, headers=actor.headers).status_code == 200
    assert active_rollover_id(api, actor) is None
    assert collect(server, api, actor, state=None)["state"] == "success"


def test_an_active_rollover_past_its_end_no_longer_applies(server, api):
    # Between its end_date and the scheduler pass that completes it.
    _, actor = new_collecting_tenant(server, api, ONEROSTER_MINIMAL)
    now = datetime.now(UTC)
    over = rollover(
        api, actor, "suspend_collection", now - timedelta(days=2), now - timedelta(days=1), "active"
    )
    assert active_rollover_id(api, actor) is None
    assert collect(server, api, actor, state=None)["state"] == "success"
    tick_at(server, now)
    assert rollover_status(server, over["id"]) == "completed"


def test_retain_deletes_upserts_but_withholds_deletions(server, api, tmp_path):
    bundle = tmp_path / "bundle"
    shutil.copytree(ONEROSTER_MINIMAL, bundle)
    _, actor = new_collecting_tenant(server, api, bundle)
    queue_collection(api, actor)
    run_worker(server)
    now = datetime.now(UTC)
    rollover(api, actor, "retain_deletes", now - timedelta(days=1), now + timedelta(days=1))
    users = [line for line in (bundle / "users.csv").read_text().splitlines() if "stu4" not in line]
    (bundle / "users.csv").write_text("\n".join(users) + "\n")
    orgs = (bundle / "orgs.csv").read_text().replace("The Other School", "Renamed")
    (bundle / "orgs.csv").write_text(orgs)
    result = collect(server, api, actor, state=None)
    assert result["stats"]["deleted"] == 0
    assert result["stats"]["updated"] == 1
    assert result["details"]["withheld_deletions"] == {"users": 1}
    stored = api.get("/v2/interop/data/users/stu4", headers=actor.headers)
    assert stored.status_code == 200


def test_retain_deletes_still_deletes_what_the_scope_no_longer_admits(server, api, tmp_path):
    # The rollover withheld every deletion, those of records the source still lists out of
    # a narrowed scope included: the tenant kept reading them for the whole window.
    bundle = tmp_path / "bundle"
    shutil.copytree(ONEROSTER_MINIMAL, bundle)
    _, actor = new_collecting_tenant(server, api, bundle)
    collect(server, api, actor)
    now = datetime.now(UTC)
    rollover(api, actor, "retain_deletes", now - timedelta(days=1), now + timedelta(days=1))
    narrowed = api.post(
        "/v2/interop/tenant/scoping/courses",
        json={"data": [{"course_ref_id": "cou1"}]},
        headers=actor.headers,
    )
    assert narrowed.status_code == 200, narrowed.text
    users = [line for line in (bundle / "users.csv").read_text().splitlines() if "stu4" not in line]
    (bundle / "users.csv").write_text("\n".join(users) + "\n")
    result = collect(server, api, actor, state=None)
    for topic, kept in (("classes", {"cla1"}), ("courses", {"cou1"})):
        assert {r["sourced_id"] for r in listed(api, actor, f"/v2/interop/data/{topic}")} == kept
    assert api.get("/v2/interop/data/classes/cla2", headers=actor.headers).status_code == 404
    assert result["stats"]["deleted"] == 1 + 2 + 5  # cou2, cla2+cla3, their 5 enrollments
    # What the source dropped is still withheld.
    assert result["details"]["withheld_deletions"] == {"users": 1}
    assert api.get("/v2/interop/data/users/stu4", headers=actor.headers).status_code == 200
