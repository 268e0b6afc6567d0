"""What verifying our own tokens costs and must still refuse. A token verified once is not
verified again by the same process: only the exact string is remembered, and expiry and the
signing key still count. A kid nobody created costs one read, not a reload of the keys."""

import time
from pathlib import Path
from types import SimpleNamespace

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import event

from conftest import _start
from factories import new_account
from interop.auth.keys import KeyRing
from interop.auth.secrets import SecretBox, load_master_secret
from interop.auth.verified import VerifiedTokens
from interop.config import Settings
from interop.db import Database
from interop.migrations_runner import upgrade

CLOUDS = "/v2/interop/clouds"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _assert_invalid_token(response: httpx.Response, message: str) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "invalid_token"
    assert message in response.json()["error"]["message"]


def _key_ring(server) -> KeyRing:
    keys = KeyRing(Database(server.database_url), SecretBox(load_master_secret(server.settings)))
    keys.load()
    return keys


def test_an_accepted_token_does_not_vouch_for_a_copy_with_another_signature_or_payload(
    server, api: httpx.Client
) -> None:
    caller = new_account(server, api)
    assert api.get(CLOUDS, headers=caller.headers).status_code == 200
    claims = jwt.decode(caller.token, options={"verify_signature": False})
    header = jwt.get_unverified_header(caller.token)
    forged = jwt.encode(claims, ec.generate_private_key(ec.SECP256R1()), "ES256", headers=header)
    _assert_invalid_token(api.get(CLOUDS, headers=_bearer(forged)), "invalid")
    # The genuine signature over another payload (a longer lifetime).
    head, _, signature = caller.token.split(".")
    other = jwt.encode({**claims, "exp": claims["exp"] + 3600}, "x" * 32, "HS256").split(".")[1]
    _assert_invalid_token(api.get(CLOUDS, headers=_bearer(f"{head}.{other}.{signature}")), "")
    assert api.get(CLOUDS, headers=caller.headers).status_code == 200


def test_an_accepted_token_is_refused_once_it_expires(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    claims = jwt.decode(caller.token, options={"verify_signature": False})
    keys = _key_ring(server)  # first: on a loaded machine loading it took over a second
    expires = int(time.time()) + 3
    token = keys.sign({**claims, "exp": expires})
    assert api.get(CLOUDS, headers=_bearer(token)).status_code == 200
    time.sleep(max(0.0, expires - time.time()) + 0.05)
    _assert_invalid_token(api.get(CLOUDS, headers=_bearer(token)), "expired")


def test_an_accepted_token_is_refused_once_its_signing_key_is_dropped(tmp_path: Path) -> None:
    # Its own server and database: dropping a key would break the shared servers' tokens.
    url = f"sqlite:///{tmp_path / 'interop.db'}"
    upgrade(url)
    settings = Settings(data_dir=tmp_path, database_url=url, engine_enabled=False)
    uv, thread, base_url = _start(settings)
    target = SimpleNamespace(settings=settings, database_url=url)
    try:
        with httpx.Client(base_url=base_url, timeout=30) as api:
            caller = new_account(target, api)
            old = caller.token
            assert api.get(CLOUDS, headers=_bearer(old)).status_code == 200
            keys = _key_ring(target)
            keys.rotate(retention_seconds=0)
            time.sleep(0.01)
            _, published = keys.rotate(retention_seconds=0)
            assert jwt.get_unverified_header(old)["kid"] not in published
            # A token request makes the server follow the rotation.
            new = api.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=(caller.client_id, caller.client_secret),
            ).json()["access_token"]
            assert api.get(CLOUDS, headers=_bearer(new)).status_code == 200
            _assert_invalid_token(api.get(CLOUDS, headers=_bearer(old)), "not signed by a key")
    finally:
        uv.should_exit = True
        thread.join(timeout=10)


def test_the_remembered_tokens_are_bounded_and_forget_the_oldest_first() -> None:
    verified = VerifiedTokens(max_tokens=3)
    later = int(time.time()) + 60
    for n in range(5):
        verified.remember(f"token-{n}", "kid", {"exp": later, "n": n})
    assert len(verified) == 3
    assert verified.recall("token-0") is None
    assert verified.recall("token-1") is None
    assert verified.recall("token-4") == ("kid", {"exp": later, "n": 4})


def test_an_expired_token_is_forgotten_when_recalled() -> None:
    verified = VerifiedTokens()
    verified.remember("gone", "kid", {"exp": int(time.time()) - 1})
    assert verified.recall("gone") is None
    assert len(verified) == 0


def test_a_made_up_kid_costs_one_primary_key_read_and_no_reload(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'interop.db'}"
    upgrade(url)
    database = Database(url)
    keys = KeyRing(database, SecretBox(load_master_secret(Settings(data_dir=tmp_path))))
    keys.load()
    statements: list[str] = []
    event.listen(
        database.read_engine,
        "before_cursor_execute",
        lambda _c, _cur, statement, *_: statements.append(statement),
    )
    assert keys.public_key("0123456789abcdef") is None
    assert len([s for s in statements if "signing_keys" in s]) == 1
    assert keys.public_key("x" * 65) is None
    assert len([s for s in statements if "signing_keys" in s]) == 1
    # A key another process created is still found, by a reload.
    other = KeyRing(database, SecretBox(load_master_secret(Settings(data_dir=tmp_path))))
    new_kid, _ = other.rotate(retention_seconds=3600)
    assert keys.public_key(new_kid) is not None
    database.dispose()
