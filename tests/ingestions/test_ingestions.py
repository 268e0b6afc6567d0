"""Ingestions: newest first, counts, and who sees which."""

import uuid

import httpx

from factories import new_account, new_tenant

INGESTIONS = "/v2/interop/ingestions"


def _queue(api, actor, hour: int) -> None:
    schedule = api.post("/v2/interop/tenant/schedules", json={"hour": hour}, headers=actor.headers)
    run = api.post(
        f"/v2/interop/tenant/schedules/{schedule.json()['data']['id']}/run", headers=actor.headers
    )
    assert run.status_code == 204


def _finish_all(server) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(server.database_url)
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE ingestions SET state = 'success' WHERE state = 'scheduled'")
        )
    engine.dispose()


def test_list_is_newest_first_with_count_and_get(server, api: httpx.Client) -> None:
    _, actor = new_tenant(server, api)
    _queue(api, actor, 1)
    _finish_all(server)
    _queue(api, actor, 2)
    body = api.get(INGESTIONS, headers=actor.headers).json()
    assert [ingestion["state"] for ingestion in body["data"]] == ["scheduled", "success"]
    assert api.get(f"{INGESTIONS}/count", headers=actor.headers).json() == 2
    newest = body["data"][0]
    one = api.get(f"{INGESTIONS}/{newest['id']}", headers=actor.headers)
    assert one.status_code == 200
    assert one.json()["data"] == newest
    assert api.get(f"{INGESTIONS}/{uuid.uuid4()}", headers=actor.headers).status_code == 404


def test_accounts_see_ingestions_of_visible_tenants_and_filter(server, api: httpx.Client) -> None:
    owner, first = new_tenant(server, api)
    _, second = new_tenant(server, api, owner=owner)
    _queue(api, first, 1)
    _queue(api, second, 1)
    assert api.get(f"{INGESTIONS}/count", headers=owner.headers).json() == 2
    only = api.get(
        INGESTIONS, params={"tenant_id": first.extra["tenant_id"]}, headers=owner.headers
    )
    assert [i["tenant_id"] for i in only.json()["data"]] == [first.extra["tenant_id"]]
    counted = api.get(
        f"{INGESTIONS}/count",
        params={"tenant_id": second.extra["tenant_id"]},
        headers=owner.headers,
    )
    assert counted.json() == 1
    stranger = new_account(server, api, "stranger")
    assert api.get(INGESTIONS, headers=stranger.headers).json()["data"] == []
    assert api.get(f"{INGESTIONS}/count", headers=stranger.headers).json() == 0


def test_actor_sees_only_its_tenants_ingestions(server, api: httpx.Client) -> None:
    owner, first = new_tenant(server, api)
    _, second = new_tenant(server, api, owner=owner)
    _queue(api, first, 1)
    _queue(api, second, 1)
    listed = api.get(INGESTIONS, headers=first.headers).json()["data"]
    assert [i["tenant_id"] for i in listed] == [first.extra["tenant_id"]]
    other = api.get(INGESTIONS, headers=second.headers).json()["data"][0]
    assert api.get(f"{INGESTIONS}/{other['id']}", headers=first.headers).status_code == 404
    filtered = api.get(
        INGESTIONS, params={"tenant_id": second.extra["tenant_id"]}, headers=first.headers
    )
    assert filtered.json()["data"] == []


def test_bad_tenant_filter_is_400(server, api: httpx.Client) -> None:
    owner, _ = new_tenant(server, api)
    response = api.get(INGESTIONS, params={"tenant_id": "nope"}, headers=owner.headers)
    assert response.status_code == 400


def test_tenant_filter_repeated_or_comma_separated_keeps_each_tenant(
    server, api: httpx.Client
) -> None:
    # The filter took one value: repeated, only the last counted, while the paging links
    # repeated both.
    owner, first = new_tenant(server, api)
    _, second = new_tenant(server, api, owner=owner)
    _, third = new_tenant(server, api, owner=owner)
    for actor in (first, second, third):
        _queue(api, actor, 1)
    wanted = [first.extra["tenant_id"], second.extra["tenant_id"]]
    for params in ([("tenant_id", t) for t in wanted], {"tenant_id": ",".join(wanted)}):
        listed = api.get(INGESTIONS, params=params, headers=owner.headers).json()
        assert sorted(i["tenant_id"] for i in listed["data"]) == sorted(wanted), params
        counted = api.get(f"{INGESTIONS}/count", params=params, headers=owner.headers)
        assert counted.json() == 2, params
    paged = api.get(
        INGESTIONS,
        params=[("tenant_id", t) for t in wanted] + [("page_size", 1)],
        headers=owner.headers,
    ).json()
    following = api.get(paged["paging"]["next"], headers=owner.headers).json()
    assert {paged["data"][0]["tenant_id"], following["data"][0]["tenant_id"]} == set(wanted)


def test_an_actors_tenant_filter_naming_others_too_keeps_only_its_own(
    server, api: httpx.Client
) -> None:
    owner, first = new_tenant(server, api)
    _, second = new_tenant(server, api, owner=owner)
    _queue(api, first, 1)
    _queue(api, second, 1)
    both = [("tenant_id", first.extra["tenant_id"]), ("tenant_id", second.extra["tenant_id"])]
    listed = api.get(INGESTIONS, params=both, headers=first.headers).json()["data"]
    assert [i["tenant_id"] for i in listed] == [first.extra["tenant_id"]]
