"""private_key_jwt at POST /oauth/token (RFC 7523 §2.2, the LTI Advantage service token
flow), and the client keys it relies on (POST/GET/DELETE /clients/{client_id}/keys)."""

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from sqlalchemy import select

from factories import Caller, _database, new_account, new_tenant
from interop.accounts.service import revoke_api_key
from interop.auth.jwk import MIN_REFRESH_SECONDS
from interop.clientkeys.models import ClientKey
from jwt_parties import (
    JwksServer,
    KeyPair,
    assertion_claims,
    hmac_with_public_key,
    jwks_server,
    unsigned,
)

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def register(api: httpx.Client, owner: Caller, client_id: str, **source: Any) -> httpx.Response:
    return api.post(f"/v2/interop/clients/{client_id}/keys", json=source, headers=owner.headers)


def token_with(api: httpx.Client, assertion: str, **form: str) -> httpx.Response:
    return api.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion,
            **form,
        },
    )


def token_url(api: httpx.Client) -> str:
    return f"{api.base_url}/oauth/token"


def assert_refused(response: httpx.Response, words: str) -> None:
    assert response.status_code == 401, response.text
    body = response.json()
    assert body["error"] == "invalid_client"
    assert words in body["error_description"]


def test_authlib_private_key_jwt_client_gets_a_working_token(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    key = KeyPair.rsa()
    registered = register(api, caller, caller.client_id, pem=key.public_pem)
    assert registered.status_code == 200, registered.text
    assert registered.json()["data"]["client_id"] == caller.client_id

    # A real OAuth client library signs the assertion (RS256, aud = the token endpoint).
    with OAuth2Session(
        client_id=caller.client_id,
        client_secret=key.private_pem,
        token_endpoint_auth_method=PrivateKeyJWT(token_url(api)),
    ) as client:
        token = client.fetch_token(
            token_url(api), grant_type="client_credentials", scope="clouds:read"
        )
    assert token["token_type"] == "Bearer"
    assert token["scope"] == "clouds:read"
    clouds = api.get(
        "/v2/interop/clouds", headers={"Authorization": f"Bearer {token['access_token']}"}
    )
    assert clouds.status_code == 200, clouds.text


def test_an_actor_signs_with_a_registered_ec_jwk_and_acts_as_its_tenant(
    server, api: httpx.Client
) -> None:
    owner, actor = new_tenant(server, api)
    key = KeyPair.ec()
    assert register(api, owner, actor.client_id, jwk=key.public_jwk).status_code == 200
    response = token_with(api, key.sign(assertion_claims(actor.client_id, token_url(api))))
    assert response.status_code == 200, response.text
    headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
    tenant = api.get("/v2/interop/tenant", headers=headers)
    assert tenant.status_code == 200, tenant.text
    assert tenant.json()["data"]["id"] == actor.extra["tenant_id"]


@pytest.fixture
def signer(server, api: httpx.Client) -> tuple[Caller, KeyPair]:
    caller = new_account(server, api)
    key = KeyPair.rsa()
    assert register(api, caller, caller.client_id, jwk=key.public_jwk).status_code == 200
    return caller, key


def at(seconds: int, as_text: bool = False) -> Callable[[], int | str]:
    """A time `seconds` from when the test runs, not from when parameters are built: a loaded
    machine collected them minutes before, and an exp 300 s ahead had passed."""

    def moment() -> int | str:
        value = int(time.time()) + seconds
        return str(value) if as_text else value

    return moment


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"aud": "https://elsewhere.example/token"}, "aud must be one of"),
        ({"exp": at(-600), "iat": at(-900)}, "expired"),
        ({"sub": "somebody-else"}, "sub must equal iss"),
        ({"jti": None}, "jti"),
        ({"exp": at(7200)}, "at most 3600 s"),
        # PyJWT reads a numeric string as a time; RFC 7519 asks for a JSON number.
        ({"exp": at(300, as_text=True)}, "exp and iat must be numbers"),
        ({"iat": at(0, as_text=True)}, "exp and iat must be numbers"),
        # No database column holds these: refused as a bad jti, not a 400 or a 500.
        ({"jti": "x\x00y"}, "jti must be"),
        ({"jti": "x\ud800y"}, "jti must be"),
    ],
    ids=[
        "wrong-audience",
        "expired",
        "sub-is-not-iss",
        "no-jti",
        "lives-too-long",
        "exp-as-string",
        "iat-as-string",
        "jti-with-nul",
        "jti-with-surrogate",
    ],
)
def test_bad_assertions_are_invalid_client(
    api: httpx.Client, signer: tuple[Caller, KeyPair], changes: dict[str, Any], words: str
) -> None:
    caller, key = signer
    changes = {name: value() if callable(value) else value for name, value in changes.items()}
    claims = assertion_claims(caller.client_id, token_url(api), **changes)
    assert_refused(token_with(api, key.sign(claims)), words)


def test_a_replayed_jti_is_refused_until_it_expires(
    api: httpx.Client, signer: tuple[Caller, KeyPair]
) -> None:
    caller, key = signer
    assertion = key.sign(assertion_claims(caller.client_id, token_url(api)))
    assert token_with(api, assertion).status_code == 200
    assert_refused(token_with(api, assertion), "already used")
    fresh = key.sign(assertion_claims(caller.client_id, token_url(api)))
    assert token_with(api, fresh).status_code == 200


def test_unknown_kid_alg_none_and_hmac_with_the_public_key_are_refused(
    api: httpx.Client, signer: tuple[Caller, KeyPair]
) -> None:
    caller, key = signer
    claims = assertion_claims(caller.client_id, token_url(api))
    assert_refused(token_with(api, key.sign(claims, kid="not-registered")), "kid")
    assert_refused(token_with(api, unsigned(claims)), "alg must be one of")
    assert_refused(token_with(api, hmac_with_public_key(claims, key)), "alg must be one of")
    impostor = KeyPair.rsa(kid=key.kid)  # the right kid, another private key
    assert_refused(token_with(api, impostor.sign(claims)), "Signature verification failed")
    assert_refused(token_with(api, "not-a-jwt"), "not a JWT")


def test_mixing_methods_or_naming_another_client_is_refused(
    api: httpx.Client, signer: tuple[Caller, KeyPair]
) -> None:
    caller, key = signer
    assertion = key.sign(assertion_claims(caller.client_id, token_url(api)))
    both = token_with(api, assertion, client_secret=caller.client_secret)
    assert both.status_code == 400
    assert both.json()["error"] == "invalid_request"
    wrong_type = token_with(api, assertion, client_assertion_type="urn:other")
    assert wrong_type.json()["error"] == "invalid_request"
    assert_refused(token_with(api, assertion, client_id="another-client"), "client_id differs")


def test_a_client_without_keys_and_a_deleted_key_cannot_sign_in(
    server, api: httpx.Client, signer: tuple[Caller, KeyPair]
) -> None:
    caller, key = signer
    other = new_account(server, api, name="other")
    claims = assertion_claims(other.client_id, token_url(api))
    assert_refused(token_with(api, key.sign(claims)), "no registered key")

    keys = api.get(f"/v2/interop/clients/{caller.client_id}/keys", headers=caller.headers)
    assert [item["kid"] for item in keys.json()["data"]] == [key.kid]
    key_id = keys.json()["data"][0]["id"]
    path = f"/v2/interop/clients/{caller.client_id}/keys/{key_id}"
    assert api.delete(path, headers=caller.headers).status_code == 204
    fresh = key.sign(assertion_claims(caller.client_id, token_url(api)))
    assert_refused(token_with(api, fresh), "no registered key")


def registered_client_ids(server) -> set[str]:
    """The clients that keys are stored for, read past the API (which cannot list a gone
    client's keys)."""
    with _database(server.database_url).transaction(write=False) as session:
        return set(session.scalars(select(ClientKey.client_id)))


def test_a_client_s_keys_go_with_the_client(server, api: httpx.Client) -> None:
    """Before, they stayed behind when a cloud was deleted, an actor uninstalled or an API key
    revoked: rows nothing could reach or remove."""
    owner, uninstalled = new_tenant(server, api)
    _, in_deleted_cloud = new_tenant(server, api, owner=owner)
    revoked = new_account(server, api, name="revoked")
    kept = new_account(server, api, name="kept")
    # An actor's keys are registered by its account, an API key's by the key itself.
    for client, registrar in [
        (uninstalled, owner),
        (in_deleted_cloud, owner),
        (revoked, revoked),
        (kept, kept),
    ]:
        response = register(api, registrar, client.client_id, jwk=KeyPair.ec().public_jwk)
        assert response.status_code == 200, response.text

    actor = uninstalled.extra
    uninstall = f"/v2/interop/clouds/{actor['cloud_id']}/actors/{actor['actor_id']}"
    assert api.delete(uninstall, headers=owner.headers).status_code == 204
    cloud = f"/v2/interop/clouds/{in_deleted_cloud.extra['cloud_id']}"
    assert api.delete(cloud, headers=owner.headers).status_code == 204
    with _database(server.database_url).transaction() as session:
        revoke_api_key(session, revoked.client_id)

    assert registered_client_ids(server) == {kept.client_id}


def test_registering_keys_checks_the_material_and_the_owner(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    other = new_account(server, api, name="other")
    key = KeyPair.ec()
    private_jwk = {**key.public_jwk, "d": "c2VjcmV0"}
    for body, words in [
        ({"jwk": private_jwk}, "private key material"),
        ({"jwk": key.public_jwk, "pem": key.public_pem}, "exactly one of"),
        ({}, "exactly one of"),
        ({"pem": key.private_pem}, "PEM public key"),
        ({"jwk": {"kty": "oct", "k": "c2VjcmV0"}}, "private key material"),
        ({"jwks_url": "ftp://keys.example/jwks"}, "jwks_url"),
        ({"jwks_url": "http://["}, "jwks_url is not a URL"),  # urlparse raises: was a 500
    ]:
        response = register(api, caller, caller.client_id, **body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["error"]["code"] == "invalid_request"
        assert words in response.text, (words, response.text)
    # Another account's client, or none at all: not found, and nothing registered.
    assert register(api, other, caller.client_id, jwk=key.public_jwk).status_code == 404
    assert register(api, caller, "no-such-client", jwk=key.public_jwk).status_code == 404
    path = f"/v2/interop/clients/{caller.client_id}/keys"
    assert api.get(path, headers=other.headers).status_code == 404
    assert api.get(path, headers=caller.headers).json()["data"] == []


def test_unknown_fields_are_ignored_and_a_key_read_back_may_be_sent_again(
    server, api: httpx.Client
) -> None:
    """Unknown fields were `400 invalid_request` ("Extra inputs are not permitted"), where the
    contract ignores them, so a client could not send back what it had read."""
    caller = new_account(server, api)
    noted = register(api, caller, caller.client_id, jwks_url="https://keys.example/a", note="x")
    assert noted.status_code == 200, noted.text
    assert "note" not in noted.json()["data"]
    keys = f"/v2/interop/clients/{caller.client_id}/keys"
    read_back = {**noted.json()["data"], "jwks_url": "https://keys.example/b"}
    again = api.post(keys, json=read_back, headers=caller.headers)
    assert again.status_code == 200, again.text
    assert again.json()["data"]["id"] != noted.json()["data"]["id"]
    listed = api.get(keys, headers=caller.headers)
    assert [item["jwks_url"] for item in listed.json()["data"]] == [
        "https://keys.example/a",
        "https://keys.example/b",
    ]


def test_a_key_the_client_has_already_is_409_and_changes_nothing(server, api: httpx.Client) -> None:
    """Before, each copy was stored: removing the key (a leak) left the other one working."""
    caller = new_account(server, api)
    key = KeyPair.ec()
    first = register(api, caller, caller.client_id, jwk=key.public_jwk)
    assert first.status_code == 200, first.text
    url_key = register(api, caller, caller.client_id, jwks_url="https://keys.example/jwks")
    assert url_key.status_code == 200, url_key.text
    for body in [
        {"jwk": key.public_jwk},  # the same key again
        {"pem": key.public_pem},  # the same material, under its thumbprint as kid
        {"jwk": {**key.public_jwk, "kid": "another-name"}},  # the same material, renamed
        {"jwk": KeyPair.rsa(kid=key.kid).public_jwk},  # another key under the same kid
    ]:
        again = register(api, caller, caller.client_id, **body)
        assert again.status_code == 409, (body, again.text)
        error = again.json()["error"]
        assert error["code"] == "client_key_exists"
        assert error["details"] == {"key_id": first.json()["data"]["id"]}
    same_url = register(api, caller, caller.client_id, jwks_url="https://keys.example/jwks")
    assert same_url.status_code == 409
    assert same_url.json()["error"]["details"] == {"key_id": url_key.json()["data"]["id"]}
    listed = api.get(f"/v2/interop/clients/{caller.client_id}/keys", headers=caller.headers)
    assert [item["id"] for item in listed.json()["data"]] == [
        first.json()["data"]["id"],
        url_key.json()["data"]["id"],
    ]
    # A key is registered per client: another client may use the same one.
    other = new_account(server, api, name="other")
    assert register(api, other, other.client_id, jwk=key.public_jwk).status_code == 200


def test_concurrent_registrations_of_one_key_store_it_once(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    jwk = KeyPair.ec().public_jwk

    def add(_: int) -> int:
        with httpx.Client(base_url=server.base_url, timeout=120) as client:
            return register(client, caller, caller.client_id, jwk=jwk).status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(add, range(10)))
    assert sorted(statuses) == [200] + [409] * 9
    listed = api.get(f"/v2/interop/clients/{caller.client_id}/keys", headers=caller.headers)
    assert len(listed.json()["data"]) == 1


def test_the_openapi_document_lists_client_key_exists(server, api: httpx.Client) -> None:
    operation = api.get("/openapi.json").json()["paths"]["/v2/interop/clients/{client_id}/keys"]
    schema = operation["post"]["responses"]["409"]["content"]["application/json"]["schema"]
    assert schema["properties"]["error"]["properties"]["code"]["enum"] == ["client_key_exists"]


def test_a_jwks_url_is_fetched_cached_and_refreshed_on_a_new_kid(
    server, api: httpx.Client, extra_server
) -> None:
    base_url = extra_server(jwks_allow_private_networks=True)
    caller = new_account(server, api)
    first = KeyPair.rsa()
    with jwks_server(first) as published:
        assert register(api, caller, caller.client_id, jwks_url=published.url).status_code == 200
        url = f"{base_url}/oauth/token"
        with httpx.Client(base_url=base_url) as local:
            for _ in range(3):
                claims = assertion_claims(caller.client_id, url)
                assert token_with(local, first.sign(claims)).status_code == 200
            assert published.fetches == 1  # cached

            # The client rotates its keys: the new kid is fetched without a restart.
            second = KeyPair.rsa()
            published.keys = [second]
            time.sleep(MIN_REFRESH_SECONDS)
            response = token_with(local, second.sign(assertion_claims(caller.client_id, url)))
            assert response.status_code == 200, response.text
            assert published.fetches == 2
            stale = first.sign(assertion_claims(caller.client_id, url))
            assert_refused(token_with(local, stale), "kid")


def test_a_jwks_url_that_times_out_is_refused_quickly(
    server, api: httpx.Client, extra_server
) -> None:
    base_url = extra_server(jwks_allow_private_networks=True, jwks_timeout_seconds=1)
    caller = new_account(server, api)
    key = KeyPair.rsa()
    with jwks_server(key) as published:
        register(api, caller, caller.client_id, jwks_url=published.slow_url)
        with httpx.Client(base_url=base_url, timeout=30) as local:
            started = time.monotonic()
            claims = assertion_claims(caller.client_id, f"{base_url}/oauth/token")
            assert_refused(token_with(local, key.sign(claims)), "timed out")
            assert time.monotonic() - started < 4


@contextmanager
def signing_in_with_jwks_at(
    server, api: httpx.Client, extra_server, path: str, **settings: Any
) -> Iterator[tuple[Callable[[], httpx.Response], JwksServer]]:
    """(a fresh assertion's token request, the JWKS server) for a client whose key is
    published at `path` of a local JWKS server, on a server that may fetch from loopback."""
    base_url = extra_server(jwks_allow_private_networks=True, **settings)
    caller = new_account(server, api)
    key = KeyPair.rsa()
    with jwks_server(key) as published, httpx.Client(base_url=base_url, timeout=60) as local:
        register(api, caller, caller.client_id, jwks_url=published.at(path))
        url = f"{base_url}/oauth/token"
        yield (
            (lambda: token_with(local, key.sign(assertion_claims(caller.client_id, url)))),
            published,
        )


def test_a_jwks_url_that_drips_is_refused_within_its_timeout(
    server, api: httpx.Client, extra_server
) -> None:
    # httpx's timeout applies to each read: a byte every 0.2 s held the request's thread for
    # minutes, and 40 such requests held every thread of the server.
    with signing_in_with_jwks_at(server, api, extra_server, "/drip", jwks_timeout_seconds=1) as (
        sign_in,
        _,
    ):
        started = time.monotonic()
        assert_refused(sign_in(), "timed out after 1 s")
        assert time.monotonic() - started < 4


def test_a_jwks_url_whose_response_head_drips_is_refused_within_its_timeout(
    server, api: httpx.Client, extra_server
) -> None:
    # The whole-fetch limit began with the body: a head sent a byte every 0.2 s held the
    # request's thread as long as the server cared to take (each byte well within a read).
    with signing_in_with_jwks_at(
        server, api, extra_server, "/drip-head", jwks_timeout_seconds=1
    ) as (sign_in, published):
        assert_refused(sign_in(), "timed out after 1 s")
        assert published.hung_up_early.wait(5)


@pytest.mark.parametrize(
    ("path", "words"),
    [("/gzip", "gzip-encoded"), ("/nested", "not JSON")],
    ids=["gzip-bomb", "deeply-nested"],
)
def test_a_hostile_jwks_is_refused(
    server, api: httpx.Client, extra_server, path: str, words: str
) -> None:
    # A gzip body unpacked whole before the size check (1 GiB of memory per fetch); a deep
    # nest of arrays made json.loads raise RecursionError (a 500).
    with signing_in_with_jwks_at(server, api, extra_server, path) as (sign_in, _):
        assert_refused(sign_in(), words)


def test_a_failing_jwks_url_is_fetched_once_per_refresh_interval(
    server, api: httpx.Client, extra_server
) -> None:
    # Anyone can send assertions naming a client: each made the server GET the URL again.
    with signing_in_with_jwks_at(server, api, extra_server, "/missing") as (sign_in, published):
        started = time.monotonic()
        for _ in range(10):
            assert_refused(sign_in(), "answered 404")
        elapsed = time.monotonic() - started
        assert published.requests <= 1 + int(elapsed / MIN_REFRESH_SECONDS), elapsed


def test_a_jwks_error_names_the_url_without_its_credentials(
    server, api: httpx.Client, extra_server
) -> None:
    # Anyone may send an assertion naming a client, and the refusal quoted its JWKS URL whole.
    base_url = extra_server(jwks_allow_private_networks=True)
    caller = new_account(server, api)
    key = KeyPair.rsa()
    with jwks_server(key) as published, httpx.Client(base_url=base_url, timeout=60) as local:
        missing = published.at("/missing")
        register(api, caller, caller.client_id, jwks_url=missing.replace("//", "//ops:pa55w0rd@"))
        claims = assertion_claims(caller.client_id, f"{base_url}/oauth/token")
        response = token_with(local, key.sign(claims))
        assert_refused(response, f"GET {missing} answered 404")
        assert "pa55w0rd" not in response.text


def test_a_jwks_url_on_loopback_is_refused_unless_allowed(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    key = KeyPair.rsa()
    with jwks_server(key) as published:
        register(api, caller, caller.client_id, jwks_url=published.url)
        claims = assertion_claims(caller.client_id, token_url(api))
        assert_refused(token_with(api, key.sign(claims)), "private or loopback")
        assert published.fetches == 0
