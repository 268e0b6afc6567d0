"""POST /oauth/token: client credentials, both client authentication methods, RFC errors."""

import time

import httpx
import jwt
from jwt import PyJWKClient
from oauthlib.oauth2 import BackendApplicationClient
from requests_oauthlib import OAuth2Session

from factories import get_token, new_account


def test_client_secret_basic_issues_a_bearer_token(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    response = api.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(caller.client_id, caller.client_secret),
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert response.headers["cache-control"] == "no-store"


def test_a_token_request_to_a_trailing_slash_is_redirected(server, api: httpx.Client) -> None:
    # As any route: the form body was refused as not JSON before the router could redirect.
    caller = new_account(server, api)
    form = {"grant_type": "client_credentials"}
    basic = (caller.client_id, caller.client_secret)
    assert api.post("/oauth/token/", data=form, auth=basic).status_code == 307
    issued = api.post("/oauth/token/", data=form, auth=basic, follow_redirects=True)
    assert issued.status_code == 200
    assert issued.json()["token_type"] == "Bearer"


def test_basic_credentials_with_another_client_id_in_the_form_are_refused(
    server, api: httpx.Client
) -> None:
    caller = new_account(server, api)
    other = new_account(server, api, "other")
    basic = (caller.client_id, caller.client_secret)

    def token(**form: str) -> httpx.Response:
        return api.post(
            "/oauth/token", data={"grant_type": "client_credentials", **form}, auth=basic
        )

    assert token(client_id=caller.client_id).status_code == 200  # naming itself is fine
    refused = token(client_id=other.client_id)
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_client"
    assert refused.headers["www-authenticate"].startswith("Basic")


def test_client_secret_post_issues_a_bearer_token(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    response = api.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": caller.client_id,
            "client_secret": caller.client_secret,
        },
    )
    assert response.status_code == 200
    assert response.json()["access_token"]


def test_wrong_secret_is_invalid_client_401(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    response = api.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(caller.client_id, "nope")
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.headers["www-authenticate"].startswith("Basic")


def test_unknown_client_is_invalid_client_401(api: httpx.Client) -> None:
    response = api.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": "acc_x", "client_secret": "y"},
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_other_grant_type_is_unsupported_grant_type(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    response = api.post(
        "/oauth/token",
        data={"grant_type": "password"},
        auth=(caller.client_id, caller.client_secret),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_missing_grant_type_is_invalid_request(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    response = api.post("/oauth/token", data={}, auth=(caller.client_id, caller.client_secret))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_two_client_authentication_methods_are_invalid_request(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    response = api.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": caller.client_id,
            "client_secret": caller.client_secret,
        },
        auth=(caller.client_id, caller.client_secret),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_json_body_is_invalid_request(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    response = api.post(
        "/oauth/token",
        json={"grant_type": "client_credentials"},
        auth=(caller.client_id, caller.client_secret),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_token_verifies_with_pyjwt_against_the_jwks(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    jwks_client = PyJWKClient(f"{server.base_url}/.well-known/jwks.json")
    signing_key = jwks_client.get_signing_key_from_jwt(caller.token)
    claims = jwt.decode(
        caller.token,
        signing_key.key,
        algorithms=["ES256"],
        audience="interop-api",
        issuer="interop",
    )
    assert claims["sub"] == caller.client_id
    assert claims["kind"] == "account"
    assert {"iss", "sub", "aud", "iat", "exp", "jti"} <= claims.keys()
    assert claims["exp"] - claims["iat"] == 3600
    assert abs(claims["iat"] - time.time()) < 60


def test_third_party_oauth2_client_gets_a_token_and_calls_the_api(
    server, api: httpx.Client, monkeypatch
) -> None:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # loopback http in the test only
    caller = new_account(server, api)
    client = BackendApplicationClient(client_id=caller.client_id)
    session = OAuth2Session(client=client)
    token = session.fetch_token(
        token_url=f"{server.base_url}/oauth/token",
        client_id=caller.client_id,
        client_secret=caller.client_secret,
    )
    assert token["token_type"] == "Bearer"
    response = session.get(f"{server.base_url}/v2/interop/clouds")
    assert response.status_code == 200
    assert response.json()["data"] == []


def test_each_token_has_a_unique_jti(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    first = jwt.decode(
        get_token(api, caller.client_id, caller.client_secret), options={"verify_signature": False}
    )
    second = jwt.decode(
        get_token(api, caller.client_id, caller.client_secret), options={"verify_signature": False}
    )
    assert first["jti"] != second["jti"]
