"""Credentials and key ids holding what no database column can (U+0000, which PostgreSQL text
cannot hold; a lone UTF-16 surrogate, which no driver encodes) are unknown credentials: 401,
as for any other made-up ones, never a 400 "cannot be stored" or a 500."""

import time

import httpx
import pytest

from jwt_parties import _b64, _segment

UNSTORABLE = ["a\x00b", "a\ud800b"]


def _garbage_jwt(header: dict, claims: dict) -> str:
    return f"{_segment(header)}.{_segment(claims)}.{_b64(b'not a signature')}"


def test_a_token_request_naming_a_client_with_nul_is_invalid_client(api: httpx.Client) -> None:
    # Basic and form fields carry UTF-8, which cannot hold a lone surrogate; NUL they can.
    basic = api.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=("a\x00b", "x")
    )
    assert basic.status_code == 401, basic.text
    assert basic.json()["error"] == "invalid_client"
    form = api.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": "a\x00b", "client_secret": "x"},
    )
    assert form.status_code == 401, form.text
    assert form.json()["error"] == "invalid_client"


def test_basic_credentials_with_nul_on_the_api_are_invalid_token(server, api: httpx.Client) -> None:
    response = api.get("/v2/interop/clouds", auth=("a\x00b", "x"))
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "invalid_token"
    assert "www-authenticate" in response.headers


@pytest.mark.parametrize("value", UNSTORABLE, ids=["nul", "surrogate"])
@pytest.mark.parametrize("where", ["kid", "foreign-iss", "foreign-aud"])
def test_a_bearer_jwt_naming_such_a_key_or_issuer_is_invalid_token(
    server, api: httpx.Client, value: str, where: str
) -> None:
    now = int(time.time())
    header = {"alg": "ES256", "kid": value if where == "kid" else "unknown-kid"}
    claims = {
        "iss": value if where == "foreign-iss" else "https://platform.example",
        "aud": value if where == "foreign-aud" else "interop-api",
        "sub": "someone",
        "iat": now,
        "exp": now + 300,
    }
    if where == "kid":
        claims["iss"] = server.settings.issuer  # one of ours, by its issuer
    token = _garbage_jwt(header, claims)
    response = api.get("/v2/interop/clouds", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "invalid_token"
