"""GET /tenant/state: pending and last ingestion, paused schedules, active rollover."""

import httpx

from factories import new_tenant

STATE = "/v2/interop/tenant/state"


def test_state_of_a_new_tenant(server, api: httpx.Client) -> None:
    _, actor = new_tenant(server, api)
    state = api.get(STATE, headers=actor.headers).json()["data"]
    assert state == {
        "tenant_id": actor.extra["tenant_id"],
        "op_state": "idle",
        "setup_state": "pending",
        "paused": False,
        "pending_ingestion_id": None,
        "last_ingestion": None,
        "active_rollover_id": None,
        "last_sync_at": None,
    }


def test_state_shows_pending_ingestion_paused_and_active_rollover(
    server, api: httpx.Client
) -> None:
    _, actor = new_tenant(server, api)
    schedule = api.post("/v2/interop/tenant/schedules", json={"hour": 4}, headers=actor.headers)
    schedule_id = schedule.json()["data"]["id"]
    api.post(f"/v2/interop/tenant/schedules/{schedule_id}/run", headers=actor.headers)
    api.patch(
        f"/v2/interop/tenant/schedules/{schedule_id}",
        json={"enabled": False},
        headers=actor.headers,
    )
    rollover = api.post(
        "/v2/interop/tenant/rollovers",
        headers=actor.headers,
        json={
            "name": "summer",
            "start_date": "2027-06-01T00:00:00Z",
            "end_date": "2027-08-01T00:00:00Z",
            "type": "retain_deletes",
            "status": "active",
            "cloud_id": actor.extra["cloud_id"],
        },
    ).json()["data"]
    state = api.get(STATE, headers=actor.headers).json()["data"]
    ingestion = api.get("/v2/interop/ingestions", headers=actor.headers).json()["data"][0]
    assert state["pending_ingestion_id"] == ingestion["id"]
    assert state["last_ingestion"] == {
        "id": ingestion["id"],
        "state": "scheduled",
        "completed_at": None,
    }
    assert state["paused"] is True
    assert state["active_rollover_id"] == rollover["id"]
