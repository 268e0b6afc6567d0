"""Scoping schools and courses: bulk replace/append, all-or-nothing, duplicates, one by one."""

import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from factories import new_tenant

SCHOOLS = "/v2/interop/tenant/scoping/schools"
COURSES = "/v2/interop/tenant/scoping/courses"


def _schools(api, actor) -> list[dict]:
    return api.get(SCHOOLS, headers=actor.headers).json()["data"]


def _post(api, actor, entries, url=SCHOOLS, **params):
    return api.post(url, json={"data": entries}, params=params, headers=actor.headers)


def test_bulk_create_returns_the_entries_in_order(server, api: httpx.Client) -> None:
    _, actor = new_tenant(server, api)
    school_id = str(uuid.uuid4())
    response = _post(
        api,
        actor,
        [
            {"school_ref_id": "north", "name": "North High"},
            {"school_id": school_id, "selected": False, "local_id": "7", "keywords": "k"},
        ],
    )
    assert response.status_code == 200
    created = response.json()["data"]
    assert [entry["school_ref_id"] for entry in created] == ["north", None]
    assert created[1]["school_id"] == school_id
    assert created[0]["selected"] is True
    assert created[1]["selected"] is False
    assert created[0]["tenant_id"] == actor.extra["tenant_id"]
    assert created[0]["version"] == 1
    assert _schools(api, actor) == created


def test_replace_true_swaps_the_set_and_is_the_default(server, api: httpx.Client) -> None:
    _, actor = new_tenant(server, api)
    _post(api, actor, [{"school_ref_id": "a"}, {"school_ref_id": "b"}])
    _post(api, actor, [{"school_ref_id": "c"}])
    assert [entry["school_ref_id"] for entry in _schools(api, actor)] == ["c"]
    _post(api, actor, [{"school_ref_id": "a"}], replace="true")
    assert [entry["school_ref_id"] for entry in _schools(api, actor)] == ["a"]


def test_replace_false_appends(server, api: httpx.Client) -> None:
    _, actor = new_tenant(server, api)
    _post(api, actor, [{"school_ref_id": "a"}])
    response = _post(api, actor, [{"school_ref_id": "b"}], replace="false")
    assert [entry["school_ref_id"] for entry in response.json()["data"]] == ["b"]
    assert [entry["school_ref_id"] for entry in _schools(api, actor)] == ["a", "b"]


def test_appending_an_identifier_already_present_is_409(server, api: httpx.Client) -> None:
    _, actor = new_tenant(server, api)
    _post(api, actor, [{"school_ref_id": "a"}])
    response = _post(api, actor, [{"school_ref_id": "z"}, {"school_ref_id": "a"}], replace="false")
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "duplicate_scoping_entry"
    assert error["details"]["index"] == 1
    assert [entry["school_ref_id"] for entry in _schools(api, actor)] == ["a"]


def test_one_duplicate_in_a_batch_of_1000_changes_nothing(server, api: httpx.Client) -> None:
    _, actor = new_tenant(server, api)
    _post(api, actor, [{"school_ref_id": "kept"}])
    batch = [{"school_ref_id": f"s{i}"} for i in range(1000)]
    batch[737] = {"school_ref_id": "s12"}
    response = _post(api, actor, batch)
    assert response.status_code == 409
    assert response.json()["error"]["details"]["index"] == 737
    assert "entry 737" in response.json()["error"]["message"]
    assert [entry["school_ref_id"] for entry in _schools(api, actor)] == ["kept"]


def test_one_bad_entry_in_a_batch_of_1000_changes_nothing(server, api: httpx.Client) -> None:
    _, actor = new_tenant(server, api)
    _post(api, actor, [{"school_ref_id": "kept"}])
    batch = [{"school_ref_id": f"s{i}"} for i in range(1000)]
    batch[500] = {"name": "no identifier"}
    response = _post(api, actor, batch)
    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["index"] == 500
    wrong_type = [{"school_ref_id": f"s{i}"} for i in range(1000)]
    wrong_type[42] = {"school_id": "not-a-uuid"}
    response = _post(api, actor, wrong_type)
    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["field"] == "body.data.42.school_id"
    assert [entry["school_ref_id"] for entry in _schools(api, actor)] == ["kept"]


def test_a_batch_of_10000_is_accepted(server, api: httpx.Client) -> None:
    _, actor = new_tenant(server, api)
    batch = [
        {
            "school_id": str(uuid.uuid4()),
            "school_ref_id": f"ref-{i}",
            "name": f"School {i}",
            "local_id": str(i),
            "keywords": "k",
        }
        for i in range(10_000)
    ]
    response = _post(api, actor, batch)
    assert response.status_code == 200, response.text[:300]
    assert len(response.json()["data"]) == 10_000
    page = api.get(SCHOOLS, params={"page": 9, "page_size": 1000}, headers=actor.headers).json()
    assert page["data"][-1]["school_ref_id"] == "ref-9999"
    assert page["paging"]["next"] is None


def test_delete_all(server, api: httpx.Client) -> None:
    _, actor = new_tenant(server, api)
    _post(api, actor, [{"school_ref_id": "a"}])
    assert api.delete(SCHOOLS, headers=actor.headers).status_code == 204
    assert _schools(api, actor) == []


def test_get_put_delete_one(server, api: httpx.Client) -> None:
    _, actor = new_tenant(server, api)
    entry = _post(api, actor, [{"school_ref_id": "a", "name": "A"}]).json()["data"][0]
    url = f"{SCHOOLS}/{entry['id']}"
    got = api.get(url, headers=actor.headers)
    assert got.json()["data"] == entry
    assert got.headers["etag"] == '"1"'
    put = api.put(
        url,
        json={"school_ref_id": "a", "name": "Renamed", "selected": False},
        headers=actor.headers,
    )
    assert put.status_code == 200
    assert put.json()["data"]["name"] == "Renamed"
    assert put.json()["data"]["selected"] is False
    assert put.json()["data"]["version"] == 2
    assert api.delete(url, headers=actor.headers).status_code == 204
    assert api.get(url, headers=actor.headers).status_code == 404


def test_put_without_identifier_is_400(server, api: httpx.Client) -> None:
    _, actor = new_tenant(server, api)
    entry = _post(api, actor, [{"school_ref_id": "a"}]).json()["data"][0]
    response = api.put(f"{SCHOOLS}/{entry['id']}", json={"name": "x"}, headers=actor.headers)
    assert response.status_code == 400


def test_put_taking_another_entrys_identifier_is_409(server, api: httpx.Client) -> None:
    _, actor = new_tenant(server, api)
    first, _second = _post(api, actor, [{"school_ref_id": "a"}, {"school_ref_id": "b"}]).json()[
        "data"
    ]
    response = api.put(
        f"{SCHOOLS}/{first['id']}", json={"school_ref_id": "b"}, headers=actor.headers
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "duplicate_scoping_entry"


def test_put_changing_tenant_id_is_read_only_field(server, api: httpx.Client) -> None:
    _, actor = new_tenant(server, api)
    entry = _post(api, actor, [{"school_ref_id": "a"}]).json()["data"][0]
    response = api.put(
        f"{SCHOOLS}/{entry['id']}",
        json={"school_ref_id": "a", "tenant_id": str(uuid.uuid4())},
        headers=actor.headers,
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "read_only_field"
    same = api.put(
        f"{SCHOOLS}/{entry['id']}",
        json={"school_ref_id": "a", "tenant_id": actor.extra["tenant_id"]},
        headers=actor.headers,
    )
    assert same.status_code == 200


def test_put_with_stale_if_match_is_409(server, api: httpx.Client) -> None:
    _, actor = new_tenant(server, api)
    entry = _post(api, actor, [{"school_ref_id": "a"}]).json()["data"][0]
    response = api.put(
        f"{SCHOOLS}/{entry['id']}",
        json={"school_ref_id": "a"},
        headers={**actor.headers, "If-Match": '"3"'},
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "concurrent_modification"


def test_puts_and_deletes_racing_with_one_if_match_let_exactly_one_through(
    server, api: httpx.Client
) -> None:
    # A DELETE read the entry without locking it: on PostgreSQL it deleted the entry a racing
    # PUT had just changed (both answered success, the PUT's change lost), several DELETEs
    # with one If-Match all answered 204, and a PUT whose entry a DELETE took meanwhile
    # answered 500 (its UPDATE matched no row).
    _, actor = new_tenant(server, api)

    def send(call: tuple[str, dict | None]) -> tuple[int, str]:
        method, body = call
        with httpx.Client(base_url=server.base_url, timeout=60) as client:
            response = client.request(method, url, json=body, headers=headers)
        return response.status_code, response.json()["error"]["code"] if response.is_error else ""

    for round_ in range(5):
        entry = _post(api, actor, [{"school_ref_id": f"r{round_}"}]).json()["data"][0]
        url = f"{SCHOOLS}/{entry['id']}"
        headers = {**actor.headers, "If-Match": '"1"'}
        calls = [("PUT", {"school_ref_id": f"r{round_}-{k}"}) for k in range(5)]
        calls += [("DELETE", None)] * 5
        with ThreadPoolExecutor(max_workers=len(calls)) as pool:
            results = list(pool.map(send, calls))
        winners = [call for call, (status, _) in zip(calls, results, strict=True) if status < 300]
        assert len(winners) == 1, results
        assert {result for result in results if result[0] >= 300} <= {
            (409, "concurrent_modification"),
            (404, "not_found"),
        }, results
        stored = api.get(url, headers=actor.headers)
        method, body = winners[0]
        if method == "DELETE":
            assert stored.status_code == 404
        else:
            assert stored.json()["data"]["school_ref_id"] == body["school_ref_id"]


def test_courses_need_a_course_identifier(server, api: httpx.Client) -> None:
    _, actor = new_tenant(server, api)
    response = _post(api, actor, [{"school_ref_id": "north"}], url=COURSES)
    assert response.status_code == 400
    ok = _post(
        api,
        actor,
        [
            {"course_ref_id": "math-1", "school_ref_id": "north"},
            {"course_id": str(uuid.uuid4()), "school_ref_id": "north"},
        ],
        url=COURSES,
    )
    assert ok.status_code == 200
    assert [entry["course_ref_id"] for entry in ok.json()["data"]] == ["math-1", None]
    duplicate = _post(api, actor, [{"course_ref_id": "math-1"}], url=COURSES, replace="false")
    assert duplicate.status_code == 409


def test_schools_and_courses_are_separate_sets(server, api: httpx.Client) -> None:
    _, actor = new_tenant(server, api)
    _post(api, actor, [{"school_ref_id": "north"}])
    _post(api, actor, [{"course_ref_id": "c1"}], url=COURSES)
    api.delete(COURSES, headers=actor.headers)
    assert len(_schools(api, actor)) == 1


@pytest.mark.parametrize("body", [{"data": "x"}, {}, [], {"data": [1]}])
def test_malformed_batches_are_400(server, api: httpx.Client, body) -> None:
    _, actor = new_tenant(server, api)
    response = api.post(SCHOOLS, json=body, headers=actor.headers)
    assert response.status_code == 400
