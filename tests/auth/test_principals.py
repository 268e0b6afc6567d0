"""Bearer verification, Basic compatibility, the 401/403 rules and immediate revocation."""

import time

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from typer.testing import CliRunner

from factories import (
    actor_caller,
    get_token,
    install,
    new_account,
    new_cloud,
    new_integration,
)
from interop.accounts.service import revoke_api_key
from interop.db import Database


def _assert_invalid_token(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert response.json()["error"]["code"] == "invalid_token"


def test_missing_authorization_is_401_invalid_token(api: httpx.Client) -> None:
    _assert_invalid_token(api.get("/v2/interop/clouds"))


def test_garbage_bearer_is_401(api: httpx.Client) -> None:
    _assert_invalid_token(api.get("/v2/interop/clouds", headers={"Authorization": "Bearer abc"}))


def test_token_signed_by_another_key_is_401(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    claims = jwt.decode(caller.token, options={"verify_signature": False})
    header = jwt.get_unverified_header(caller.token)
    forged = jwt.encode(claims, ec.generate_private_key(ec.SECP256R1()), "ES256", headers=header)
    _assert_invalid_token(
        api.get("/v2/interop/clouds", headers={"Authorization": f"Bearer {forged}"})
    )


def test_alg_none_token_is_401(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    claims = jwt.decode(caller.token, options={"verify_signature": False})
    header = jwt.get_unverified_header(caller.token)
    unsigned = jwt.encode(claims, None, algorithm="none", headers={"kid": header["kid"]})
    _assert_invalid_token(
        api.get("/v2/interop/clouds", headers={"Authorization": f"Bearer {unsigned}"})
    )


def test_expired_token_is_401(server, api: httpx.Client) -> None:
    from interop.auth.keys import KeyRing
    from interop.auth.secrets import SecretBox, load_master_secret

    caller = new_account(server, api)
    claims = jwt.decode(caller.token, options={"verify_signature": False})
    keys = KeyRing(Database(server.database_url), SecretBox(load_master_secret(server.settings)))
    keys.load()
    expired = keys.sign({**claims, "iat": int(time.time()) - 7200, "exp": int(time.time()) - 3600})
    _assert_invalid_token(
        api.get("/v2/interop/clouds", headers={"Authorization": f"Bearer {expired}"})
    )


def test_account_key_as_basic_is_accepted_on_account_endpoints(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    response = api.get("/v2/interop/clouds", auth=(caller.client_id, caller.client_secret))
    assert response.status_code == 200


def test_wrong_basic_secret_is_401(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    _assert_invalid_token(api.get("/v2/interop/clouds", auth=(caller.client_id, "wrong")))


def test_actor_on_account_endpoint_is_403_wrong_principal(server, api: httpx.Client) -> None:
    owner = new_account(server, api)
    new_integration(api, owner)
    actor = actor_caller(api, install(api, owner, new_cloud(api, owner)["id"], "gradebook"))
    response = api.get("/v2/interop/clouds", headers=actor.headers)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "wrong_principal"


def test_account_on_actor_endpoint_is_403_wrong_principal(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    response = api.get("/v2/interop/tenant", headers=caller.headers)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "wrong_principal"


def test_revoked_account_key_token_fails_at_once(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    assert api.get("/v2/interop/clouds", headers=caller.headers).status_code == 200
    with Database(server.database_url).transaction() as session:
        revoke_api_key(session, caller.client_id)
    _assert_invalid_token(api.get("/v2/interop/clouds", headers=caller.headers))
    token = api.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(caller.client_id, caller.client_secret),
    )
    assert token.status_code == 401


def test_uninstalled_actor_token_fails_at_once(server, api: httpx.Client) -> None:
    owner = new_account(server, api)
    new_integration(api, owner)
    cloud = new_cloud(api, owner)
    actor_json = install(api, owner, cloud["id"], "gradebook")
    actor = actor_caller(api, actor_json)
    assert api.get("/v2/interop/tenant", headers=actor.headers).status_code == 200
    deleted = api.delete(
        f"/v2/interop/clouds/{cloud['id']}/actors/{actor_json['id']}", headers=owner.headers
    )
    assert deleted.status_code == 204
    _assert_invalid_token(api.get("/v2/interop/tenant", headers=actor.headers))


def test_deleted_cloud_revokes_its_actors_tokens(server, api: httpx.Client) -> None:
    owner = new_account(server, api)
    new_integration(api, owner)
    cloud = new_cloud(api, owner)
    actor = actor_caller(api, install(api, owner, cloud["id"], "gradebook"))
    assert api.delete(f"/v2/interop/clouds/{cloud['id']}", headers=owner.headers).status_code == 204
    _assert_invalid_token(api.get("/v2/interop/tenant", headers=actor.headers))


def test_rotated_actor_secret_revokes_old_tokens_and_secret(server, api: httpx.Client) -> None:
    owner = new_account(server, api)
    new_integration(api, owner)
    cloud = new_cloud(api, owner)
    actor_json = install(api, owner, cloud["id"], "gradebook")
    actor = actor_caller(api, actor_json)
    rotated = api.post(
        f"/v2/interop/clouds/{cloud['id']}/actors/{actor_json['id']}/credentials",
        headers=owner.headers,
    )
    assert rotated.status_code == 200
    new_secret = rotated.json()["data"]["credentials"]["client_secret"]
    assert new_secret != actor.client_secret
    _assert_invalid_token(api.get("/v2/interop/tenant", headers=actor.headers))
    old = api.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(actor.client_id, actor.client_secret),
    )
    assert old.status_code == 401
    fresh = get_token(api, actor.client_id, new_secret)
    assert (
        api.get("/v2/interop/tenant", headers={"Authorization": f"Bearer {fresh}"}).status_code
        == 200
    )


def test_cli_revoke_command_revokes(server, api: httpx.Client, monkeypatch) -> None:
    from interop.cli import app

    caller = new_account(server, api)
    monkeypatch.setenv("INTEROP_DATABASE_URL", server.database_url)
    monkeypatch.setenv("INTEROP_DATA_DIR", str(server.data_dir))
    result = CliRunner().invoke(app, ["accounts", "keys", "revoke", caller.client_id])
    assert result.exit_code == 0, result.output
    _assert_invalid_token(api.get("/v2/interop/clouds", headers=caller.headers))
