"""LTI 1.3 platforms: a JWT a registered platform signs is a bearer token of the registering
account, or, with the `interop_tenant_id` custom parameter, of that tenant."""

import json
import logging
import time
import uuid
from typing import Any

import httpx
import pytest

from cli_runner import invoke
from factories import Caller, new_account, new_cloud, new_tenant
from interop.auth.jwk import MIN_REFRESH_SECONDS
from jwt_parties import KeyPair, hmac_with_public_key, jwks_server, unsigned

ISSUER = "https://canvas.example.edu"
DEPLOYMENT = "https://purl.imsglobal.org/spec/lti/claim/deployment_id"
CUSTOM = "https://purl.imsglobal.org/spec/lti/claim/custom"


def platform_claims(client_id: str, **changes: Any) -> dict[str, Any]:
    """What an LTI 1.3 platform puts in a JWT it signs for the tool."""
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": client_id,
        "sub": "admin-1",
        "iat": now,
        "exp": now + 300,
        "nonce": uuid.uuid4().hex,
        DEPLOYMENT: "deployment-1",
    }
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


def register(api: httpx.Client, owner: Caller, **body: Any) -> httpx.Response:
    body.setdefault("issuer", ISSUER)
    body.setdefault("deployment_ids", ["deployment-1"])
    return api.post("/v2/interop/lti/platforms", json=body, headers=owner.headers)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def operator(server, *args: str) -> str:
    """`interop ARGS` on the test server's database, as its operator runs it: the output."""
    result = invoke(list(args), server.settings.data_dir, INTEROP_DATABASE_URL=server.database_url)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def platform(server, api: httpx.Client) -> tuple[Caller, KeyPair, str]:
    owner = new_account(server, api)
    key = KeyPair.rsa()
    client_id = f"tool-{uuid.uuid4().hex[:8]}"
    response = register(api, owner, client_id=client_id, jwk=key.public_jwk)
    assert response.status_code == 200, response.text
    return owner, key, client_id


def test_a_platform_token_acts_as_the_registering_account(
    server, api: httpx.Client, platform: tuple[Caller, KeyPair, str]
) -> None:
    owner, key, client_id = platform
    cloud = new_cloud(api, owner, "district")
    other = new_account(server, api, name="other")
    new_cloud(api, other, "not-yours")
    token = key.sign(platform_claims(client_id))
    clouds = api.get("/v2/interop/clouds", headers=bearer(token))
    assert clouds.status_code == 200, clouds.text
    assert [item["id"] for item in clouds.json()["data"]] == [cloud["id"]]
    # An account principal: the tenant endpoints are for actors.
    tenant = api.get("/v2/interop/tenant", headers=bearer(token))
    assert tenant.status_code == 403
    assert tenant.json()["error"]["code"] == "wrong_principal"


def test_the_tenant_custom_parameter_acts_as_that_tenant(server, api: httpx.Client) -> None:
    owner, actor = new_tenant(server, api)
    key = KeyPair.ec()
    client_id = "tool-tenant"
    registered = register(api, owner, client_id=client_id, pem=key.public_pem)
    assert registered.status_code == 200, registered.text
    # A PEM has no kid: the key's is its RFC 7638 thumbprint, which the platform sends.
    key.kid = registered.json()["data"]["kid"]
    tenant_id = actor.extra["tenant_id"]
    token = key.sign(platform_claims(client_id, **{CUSTOM: {"interop_tenant_id": tenant_id}}))
    tenant = api.get("/v2/interop/tenant", headers=bearer(token))
    assert tenant.status_code == 200, tenant.text
    assert tenant.json()["data"]["id"] == tenant_id

    # A tenant the platform's account cannot see is refused, not borrowed.
    _, stranger = new_tenant(server, api, integration="stranger")
    foreign = {CUSTOM: {"interop_tenant_id": stranger.extra["tenant_id"]}}
    refused = api.get(
        "/v2/interop/tenant", headers=bearer(key.sign(platform_claims(client_id, **foreign)))
    )
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_token"


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"aud": "another-tool"}, "neither by this server nor a registered platform"),
        ({"iss": "https://moodle.example.org"}, "neither by this server nor a registered platform"),
        ({"exp": int(time.time()) - 600, "iat": int(time.time()) - 900}, "expired"),
        ({DEPLOYMENT: "deployment-9"}, "deployment_id"),
        ({"iat": None}, "iat"),
    ],
    ids=["wrong-audience", "unknown-issuer", "expired", "unregistered-deployment", "no-iat"],
)
def test_bad_platform_tokens_are_invalid_token(
    api: httpx.Client, platform: tuple[Caller, KeyPair, str], changes: dict[str, Any], words: str
) -> None:
    _, key, client_id = platform
    response = api.get(
        "/v2/interop/clouds", headers=bearer(key.sign(platform_claims(client_id, **changes)))
    )
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "invalid_token"
    assert words in response.json()["error"]["message"]
    assert "invalid_token" in response.headers["www-authenticate"]


def test_forged_platform_tokens_are_refused(
    api: httpx.Client, platform: tuple[Caller, KeyPair, str]
) -> None:
    _, key, client_id = platform
    claims = platform_claims(client_id)
    for token in (
        unsigned(claims),
        hmac_with_public_key(claims, key),
        KeyPair.rsa(kid=key.kid).sign(claims),
        key.sign(claims, kid="unknown-kid"),
    ):
        response = api.get("/v2/interop/clouds", headers=bearer(token))
        assert response.status_code == 401, (token, response.text)
        assert response.json()["error"]["code"] == "invalid_token"


def test_several_audiences_need_azp(
    api: httpx.Client, platform: tuple[Caller, KeyPair, str]
) -> None:
    _, key, client_id = platform
    both = platform_claims(client_id, aud=[client_id, "another-tool"])
    assert api.get("/v2/interop/clouds", headers=bearer(key.sign(both))).status_code == 401
    named = {**both, "azp": client_id}
    assert api.get("/v2/interop/clouds", headers=bearer(key.sign(named))).status_code == 200


def test_platform_key_rotation_is_picked_up_from_its_jwks_url(
    server, api: httpx.Client, extra_server
) -> None:
    base_url = extra_server(jwks_allow_private_networks=True)
    owner = new_account(server, api)
    first = KeyPair.rsa()
    with jwks_server(first) as published, httpx.Client(base_url=base_url) as local:
        assert (
            register(api, owner, client_id="tool-jwks", jwks_url=published.url).status_code == 200
        )
        assert (
            local.get(
                "/v2/interop/clouds", headers=bearer(first.sign(platform_claims("tool-jwks")))
            ).status_code
            == 200
        )
        second = KeyPair.rsa()
        published.keys = [first, second]
        time.sleep(MIN_REFRESH_SECONDS)
        rotated = local.get(
            "/v2/interop/clouds", headers=bearer(second.sign(platform_claims("tool-jwks")))
        )
        assert rotated.status_code == 200, rotated.text
        assert published.fetches == 2


def test_registrations_are_the_accounts_own(server, api: httpx.Client) -> None:
    owner = new_account(server, api)
    other = new_account(server, api, name="other")
    key = KeyPair.rsa()
    created = register(api, owner, client_id="tool-1", jwk=key.public_jwk)
    assert created.status_code == 200
    platform_id = created.json()["data"]["id"]
    assert created.json()["data"]["kid"] == key.kid

    again = register(api, owner, client_id="tool-1", jwk=KeyPair.rsa().public_jwk)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "lti_platform_exists"
    ours = register(
        api, owner, client_id="tool-2", issuer=server.settings.issuer, jwk=key.public_jwk
    )
    assert ours.status_code == 400

    assert api.get("/v2/interop/lti/platforms", headers=other.headers).json()["data"] == []
    listed = api.get("/v2/interop/lti/platforms", headers=owner.headers).json()["data"]
    assert [item["id"] for item in listed] == [platform_id]
    path = f"/v2/interop/lti/platforms/{platform_id}"
    assert api.delete(path, headers=other.headers).status_code == 404
    assert api.delete(path, headers=owner.headers).status_code == 204
    token = key.sign(platform_claims("tool-1"))
    assert api.get("/v2/interop/clouds", headers=bearer(token)).status_code == 401


def test_another_account_registers_the_same_platform_without_learning_of_the_first(
    server, api: httpx.Client, platform: tuple[Caller, KeyPair, str]
) -> None:
    """A client id is no secret. Unique across the server, the pair was `409` to a second
    account (telling it another holds it), and whoever registered it first, with the
    platform's real keys, had the platform's JWTs act as their account."""
    owner, key, client_id = platform
    other = new_account(server, api, name="other")
    created = register(api, other, client_id=client_id, jwk=key.public_jwk)
    assert created.status_code == 200, created.text
    assert created.json()["data"]["account_id"] == str(other.account_id)
    # Each lists its own registration only.
    for caller in (owner, other):
        listed = api.get("/v2/interop/lti/platforms", headers=caller.headers).json()["data"]
        assert [item["account_id"] for item in listed] == [str(caller.account_id)]
    again = register(api, other, client_id=client_id, jwk=key.public_jwk)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "lti_platform_exists"


def test_a_platform_registered_by_two_accounts_is_refused_until_the_operator_removes_one(
    server, api: httpx.Client, platform: tuple[Caller, KeyPair, str], caplog
) -> None:
    """Which account the platform's JWTs are for cannot be told: neither gets them, and the
    log names both registrations for the operator."""
    owner, key, client_id = platform
    cloud = new_cloud(api, owner, "district")
    squatter = new_account(server, api, name="squatter")
    taken = register(api, squatter, client_id=client_id, jwk=key.public_jwk)
    assert taken.status_code == 200, taken.text
    token = key.sign(platform_claims(client_id))
    with caplog.at_level(logging.WARNING, logger="interop.lti"):
        refused = api.get("/v2/interop/clouds", headers=bearer(token))
    assert refused.status_code == 401, refused.text
    assert refused.json()["error"]["code"] == "invalid_token"
    assert "registered more than once" in refused.json()["error"]["message"]
    [warning] = [record.getMessage() for record in caplog.records if record.name == "interop.lti"]
    listed = operator(server, "lti", "platforms", "list")
    registrations = [json.loads(line) for line in listed.splitlines()]
    assert len(registrations) == 2
    assert all(registration["id"] in warning for registration in registrations)

    operator(server, "lti", "platforms", "remove", taken.json()["data"]["id"])
    clouds = api.get("/v2/interop/clouds", headers=bearer(token))
    assert clouds.status_code == 200, clouds.text
    assert [item["id"] for item in clouds.json()["data"]] == [cloud["id"]]


def test_a_registration_with_other_keys_neither_takes_nor_blocks_the_platforms_tokens(
    server, api: httpx.Client, platform: tuple[Caller, KeyPair, str]
) -> None:
    """Which registration a token is for is judged by the keys that verify it: a squatter
    registering the issuer and client id with keys of its own blocked the platform too."""
    owner, key, client_id = platform
    cloud = new_cloud(api, owner, "district")
    squatter = new_account(server, api, name="squatter")
    own_keys = KeyPair.ec()
    taken = register(api, squatter, client_id=client_id, jwk=own_keys.public_jwk)
    assert taken.status_code == 200, taken.text
    new_cloud(api, squatter, "squatters")
    clouds = api.get("/v2/interop/clouds", headers=bearer(key.sign(platform_claims(client_id))))
    assert clouds.status_code == 200, clouds.text
    assert [item["id"] for item in clouds.json()["data"]] == [cloud["id"]]
    # And the squatter's own tokens act for the squatter alone.
    theirs = api.get(
        "/v2/interop/clouds", headers=bearer(own_keys.sign(platform_claims(client_id)))
    )
    assert theirs.status_code == 200, theirs.text
    assert [item["name"] for item in theirs.json()["data"]] == ["squatters"]


def test_accounts_may_share_a_client_id_for_different_deployments(
    server, api: httpx.Client, platform: tuple[Caller, KeyPair, str]
) -> None:
    """A platform's deployments of one tool (one client id) can be different districts."""
    owner, key, client_id = platform
    new_cloud(api, owner, "district-1")
    other = new_account(server, api, name="other")
    theirs = new_cloud(api, other, "district-2")
    registered = register(
        api, other, client_id=client_id, deployment_ids=["deployment-2"], jwk=key.public_jwk
    )
    assert registered.status_code == 200, registered.text
    token = key.sign(platform_claims(client_id, **{DEPLOYMENT: "deployment-2"}))
    clouds = api.get("/v2/interop/clouds", headers=bearer(token))
    assert clouds.status_code == 200, clouds.text
    assert [item["id"] for item in clouds.json()["data"]] == [theirs["id"]]


def test_unknown_fields_are_ignored(server, api: httpx.Client) -> None:
    """They were `400 invalid_request` "Extra inputs are not permitted"."""
    owner = new_account(server, api)
    response = register(api, owner, client_id="tool", jwk=KeyPair.rsa().public_jwk, note="x")
    assert response.status_code == 200, response.text
    assert "note" not in response.json()["data"]


def test_the_answers_fields_sent_in_a_registration_are_ignored(server, api: httpx.Client) -> None:
    """As on every create: the registration is the caller's account's, with a new id and time
    and its key's kid, whatever the body says of them."""
    owner = new_account(server, api)
    other = new_account(server, api, name="other")
    key = KeyPair.rsa()
    sent = {
        "id": str(uuid.uuid4()),
        "account_id": str(other.account_id),
        "kid": "another-kid",
        "created_at": "2000-01-01T00:00:00Z",
    }
    response = register(api, owner, client_id="tool", jwk=key.public_jwk, **sent)
    assert response.status_code == 200, response.text
    registered = response.json()["data"]
    assert registered["account_id"] == str(owner.account_id)
    assert registered["kid"] == key.kid
    assert registered["id"] != sent["id"]
    assert registered["created_at"] != sent["created_at"]
    assert api.get("/v2/interop/lti/platforms", headers=other.headers).json()["data"] == []


def test_a_jwks_url_that_is_no_url_is_refused(server, api: httpx.Client) -> None:
    """urlparse raises on an unbalanced IPv6 bracket; `make fuzz` found it answered a 500."""
    owner = new_account(server, api)
    response = register(api, owner, client_id="tool", jwks_url="http://[")
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_request"
    assert api.get("/v2/interop/lti/platforms", headers=owner.headers).json()["data"] == []


@pytest.mark.parametrize(
    "issuer",
    [
        "http://canvas.example.edu",  # not https
        "canvas.example.edu",  # no scheme
        "https://canvas.example.edu/?tool=1",  # a query
        "https://canvas.example.edu/#lti",  # a fragment
        "https:///no-host",
        "https://canvas .example.edu",
    ],
)
def test_an_issuer_that_is_no_https_url_is_refused(server, api: httpx.Client, issuer: str) -> None:
    """LTI 1.3 (OIDC Discovery §3): a platform's iss is an https URL without query or fragment.
    Before, any string was registered, an http:// issuer among them."""
    owner = new_account(server, api)
    response = register(api, owner, client_id="tool", issuer=issuer, jwk=KeyPair.rsa().public_jwk)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["details"][0]["field"] == "body.issuer"
    assert "https URL" in error["details"][0]["message"]
    assert api.get("/v2/interop/lti/platforms", headers=owner.headers).json()["data"] == []


def test_an_https_issuer_with_a_path_is_registered(server, api: httpx.Client) -> None:
    owner = new_account(server, api)
    issuer = "https://lms.example.edu:8443/moodle/"
    response = register(api, owner, client_id="tool", issuer=issuer, jwk=KeyPair.rsa().public_jwk)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["issuer"] == issuer


@pytest.mark.parametrize("deployment_id", ["", "   ", "d" * 256])
def test_a_deployment_id_that_names_no_deployment_is_refused(
    server, api: httpx.Client, deployment_id: str
) -> None:
    """LTI 1.3: a deployment id is 1 to 255 characters. A blank one was registered, and an
    empty list entry reads as a deployment no platform sends."""
    owner = new_account(server, api)
    response = register(
        api,
        owner,
        client_id="tool",
        deployment_ids=["deployment-1", deployment_id],
        jwk=KeyPair.rsa().public_jwk,
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["details"][0]["field"] == "body.deployment_ids.1"
    assert api.get("/v2/interop/lti/platforms", headers=owner.headers).json()["data"] == []
