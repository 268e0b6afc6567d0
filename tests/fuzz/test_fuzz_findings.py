"""What schema fuzzing found, pinned down one by one so each stays fixed."""

from factories import new_account, new_tenant

SCHOOLS = "/v2/interop/tenant/scoping/schools"


def test_an_integral_float_is_an_integer_as_json_schema_says(server, api):
    owner, actor = new_tenant(server, api)
    schedule = api.post("/v2/interop/tenant/schedules", json={"hour": 7.0}, headers=actor.headers)
    assert schedule.status_code == 200, schedule.text
    assert schedule.json()["data"]["hour"] == 7
    fraction = api.post("/v2/interop/tenant/schedules", json={"hour": 7.5}, headers=actor.headers)
    assert fraction.status_code == 400
    text = api.post("/v2/interop/tenant/schedules", json={"hour": "7"}, headers=actor.headers)
    assert text.status_code == 400
    cloud = api.post(
        "/v2/interop/clouds", json={"name": "c", "generation": 2.0}, headers=owner.headers
    )
    assert cloud.status_code == 200, cloud.text


def test_a_page_past_any_offset_is_400_not_500(server, api):
    caller = new_account(server, api)
    response = api.get(
        "/v2/interop/clouds", params={"page": 9223372036854776}, headers=caller.headers
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


def test_text_the_database_cannot_store_is_400_not_500(server, api):
    _, actor = new_tenant(server, api)
    body = {"data": [{"school_ref_id": "a", "keywords": "nul\u0000inside"}]}
    response = api.post(SCHOOLS, json=body, headers=actor.headers)
    # SQLite stores U+0000; PostgreSQL text cannot hold it.
    expected = 400 if server.backend == "postgresql" else 200
    assert response.status_code == expected, response.text
    lookup = api.get("/v2/interop/data/users/nul%00id", headers=actor.headers)
    assert lookup.status_code in (400, 404)


def test_the_schema_states_the_rules_the_service_checks(server, api):
    document = api.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    school = schemas["ScopingSchoolIn"]
    assert {tuple(option["required"]) for option in school["anyOf"]} == {
        ("school_id",),
        ("school_ref_id",),
    }
    rollovers = document["paths"]["/v2/interop/tenant/rollovers"]["get"]["parameters"]
    sort = next(parameter for parameter in rollovers if parameter["name"] == "sort")
    assert "pattern" in str(sort["schema"])
    metrics = document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(metrics) == ["text/plain"]


def test_a_search_generation_beyond_int32_is_a_400_on_every_backend(server, api):
    """Found by the stateful fuzzer: PostgreSQL's integer column refused the comparison."""
    owner = new_account(server, api)
    response = api.get(
        "/v2/interop/clouds/search", params={"generation": 398726367651}, headers=owner.headers
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"
    assert "generation" in response.json()["error"]["message"]
    for spelled in ("7.0", "1_0"):
        response = api.get(
            "/v2/interop/clouds/search", params={"generation": spelled}, headers=owner.headers
        )
        assert response.status_code == 400, (spelled, response.text)


def test_a_time_is_an_rfc3339_string_not_a_unix_number(server, api):
    """Found by the stateful fuzzer: `changed_since=0.0` was read as Unix time and answered."""
    _, actor = new_tenant(server, api)
    # Nor are times without seconds or with a decimal comma (no RFC 3339 date-time either).
    for since in ("0.0", "1700000000", "2026-01-31", "2026-01-31T08:00Z", "2026-01-31T08:00:00,5Z"):
        response = api.get(
            "/v2/interop/data/users", params={"changed_since": since}, headers=actor.headers
        )
        assert response.status_code == 400, (since, response.text)
        assert response.json()["error"]["code"] == "invalid_request"
    for since in (
        "2026-01-31T08:00:00Z",
        "2026-01-31t08:00:00.123456789+02:00",
        "2026-01-31 08:00:00z",
    ):
        fine = api.get(
            "/v2/interop/data/users", params={"changed_since": since}, headers=actor.headers
        )
        assert fine.status_code == 200, (since, fine.text)
    rollover = {
        "name": "2026-27",
        "start_date": 1_800_000_000,
        "end_date": "2027-07-31T00:00:00Z",
        "type": "retain_deletes",
        "status": "scheduled",
        "cloud_id": actor.extra["cloud_id"],
    }
    number = api.post("/v2/interop/tenant/rollovers", json=rollover, headers=actor.headers)
    assert number.status_code == 400, number.text
    assert "start_date" in number.text
