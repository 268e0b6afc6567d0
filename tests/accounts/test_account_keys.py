"""(ext) Account API keys over the API: a parent account, or the operator, lists, creates and
revokes the keys of the accounts below it (SPEC §2: keys are "created by the operator CLI or
by a parent account"), never its own."""

import uuid

import httpx

from factories import Caller, get_token, new_account, new_cloud

API = "/v2/interop"


def keys_url(account: Caller, client_id: str | None = None) -> str:
    url = f"{API}/accounts/{account.account_id}/keys"
    return f"{url}/{client_id}" if client_id else url


def test_a_parent_creates_a_key_its_child_signs_in_with(server, api: httpx.Client) -> None:
    state = new_account(server, api, "state", "state_education_agency")
    district = new_account(server, api, "district", "education_agency", parent=state)
    created = api.post(keys_url(district), headers=state.headers)
    assert created.status_code == 200, created.text
    key = created.json()["data"]
    assert key["account_id"] == district.account_id
    assert key["client_id"].startswith("acc_") and key["client_id"] != district.client_id
    token = get_token(api, key["client_id"], key["client_secret"])
    cloud = new_cloud(api, Caller(key["client_id"], key["client_secret"], token), "north")
    assert cloud["account_id"] == district.account_id
    listed = api.get(keys_url(district), headers=state.headers)
    assert listed.status_code == 200, listed.text
    assert [item["client_id"] for item in listed.json()["data"]] == [
        district.client_id,
        key["client_id"],
    ]
    assert "client_secret" not in listed.text
    assert key["client_secret"] not in listed.text


def test_a_revoked_key_and_its_tokens_stop_working_at_once(server, api: httpx.Client) -> None:
    state = new_account(server, api, "state", "state_education_agency")
    district = new_account(server, api, "district", "education_agency", parent=state)
    assert api.get(f"{API}/clouds", headers=district.headers).status_code == 200
    revoked = api.delete(keys_url(district, district.client_id), headers=state.headers)
    assert revoked.status_code == 204, revoked.text
    assert api.get(f"{API}/clouds", headers=district.headers).status_code == 401
    again = api.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(district.client_id, district.client_secret),
    )
    assert again.status_code == 401
    assert api.get(keys_url(district), headers=state.headers).json()["data"] == []
    twice = api.delete(keys_url(district, district.client_id), headers=state.headers)
    assert twice.status_code == 404


def test_a_grandparent_manages_the_keys_of_any_account_below_it(server, api: httpx.Client) -> None:
    state = new_account(server, api, "state", "state_education_agency")
    district = new_account(server, api, "district", "education_agency", parent=state)
    school = new_account(server, api, "school", "education_agency", parent=district)
    assert api.post(keys_url(school), headers=state.headers).status_code == 200
    assert api.post(keys_url(school), headers=district.headers).status_code == 200
    listed = api.get(keys_url(school), headers=state.headers).json()["data"]
    assert len(listed) == 3


def test_the_operator_manages_the_keys_of_any_account(server, api: httpx.Client) -> None:
    operator = new_account(server, api, "operator", "kimono")
    stranger = new_account(server, api, "stranger", "education_agency")
    created = api.post(keys_url(stranger), headers=operator.headers)
    assert created.status_code == 200, created.text
    client_id = created.json()["data"]["client_id"]
    assert api.delete(keys_url(stranger, client_id), headers=operator.headers).status_code == 204
    listed = api.get(keys_url(stranger), headers=operator.headers).json()["data"]
    assert [item["client_id"] for item in listed] == [stranger.client_id]


def test_an_account_manages_no_keys_of_its_own_nor_above_nor_beside_it(
    server, api: httpx.Client
) -> None:
    """Its own account answers as one it cannot see: 404, never 403, the same whatever
    exists. Each refusal leaves the keys as they were."""
    state = new_account(server, api, "state", "state_education_agency")
    district = new_account(server, api, "district", "education_agency", parent=state)
    school = new_account(server, api, "school", "education_agency", parent=district)
    stranger = new_account(server, api, "stranger", "education_agency")
    nobody = Caller("acc_none", "", "", str(uuid.uuid4()))
    refusals = [
        (district, district),  # its own
        (district, state),  # its parent
        (school, district),  # from below
        (stranger, district),  # another tree
        (district, nobody),  # no such account
    ]
    for caller, target in refusals:
        for method, url in [
            ("GET", keys_url(target)),
            ("POST", keys_url(target)),
            ("DELETE", keys_url(target, target.client_id)),
        ]:
            response = api.request(method, url, headers=caller.headers)
            assert response.status_code == 404, (caller.client_id, method, url, response.text)
            error = response.json()["error"]
            assert error["code"] == "not_found"
            assert error["message"].startswith(f"no account {target.account_id} among those")
    # A key of another account, even one the caller manages, is not the path account's.
    wrong_account = api.delete(keys_url(district, school.client_id), headers=state.headers)
    assert wrong_account.status_code == 404
    for account in (state, district, school, stranger):
        assert api.get(f"{API}/clouds", headers=account.headers).status_code == 200
    listed = api.get(keys_url(district), headers=state.headers).json()["data"]
    assert [item["client_id"] for item in listed] == [district.client_id]


def test_a_malformed_account_id_is_400(server, api: httpx.Client) -> None:
    state = new_account(server, api, "state", "state_education_agency")
    malformed = api.get(f"{API}/accounts/not-a-uuid/keys", headers=state.headers)
    assert malformed.status_code == 400
    assert malformed.json()["error"]["code"] == "invalid_request"
