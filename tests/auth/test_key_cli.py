"""`interop keys rotate`, `interop clients keys add` and `interop lti platforms add` against
the live test server's database: in this process, and `keys rotate` as operators run it, the
installed executable."""

import json
import time
from pathlib import Path

import httpx
import jwt

from cli_runner import invoke, run
from factories import new_account
from jwt_parties import KeyPair, assertion_claims

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def cli(server, *args: str, process: bool = False) -> str:
    """The command's stdout, once it succeeded: `process`, as the installed executable."""
    runner = run if process else invoke
    result = runner(list(args), server.settings.data_dir, INTEROP_DATABASE_URL=server.database_url)
    assert result.returncode == 0, result.stderr
    return result.stdout


def kid_of(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


def test_rotation_signs_new_tokens_with_a_new_key_and_keeps_old_ones_valid(
    server, api: httpx.Client
) -> None:
    caller = new_account(server, api)
    before = caller.token
    out = cli(server, "keys", "rotate", process=True)
    after = api.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(caller.client_id, caller.client_secret),
    ).json()["access_token"]

    assert kid_of(after) != kid_of(before)
    assert kid_of(after) in out
    published = {key["kid"] for key in api.get("/.well-known/jwks.json").json()["keys"]}
    assert {kid_of(before), kid_of(after)} <= published
    for token in (before, after):
        clouds = api.get("/v2/interop/clouds", headers={"Authorization": f"Bearer {token}"})
        assert clouds.status_code == 200, clouds.text


def test_clients_keys_add_lets_the_client_sign_in_with_an_assertion(
    server, api: httpx.Client, tmp_path: Path
) -> None:
    caller = new_account(server, api)
    key = KeyPair.ec()
    jwk_file = tmp_path / "key.json"
    jwk_file.write_text(json.dumps(key.public_jwk))
    added = json.loads(
        cli(server, "clients", "keys", "add", caller.client_id, "--jwk-file", str(jwk_file))
    )
    assert added["kid"] == key.kid
    listed = cli(server, "clients", "keys", "list", caller.client_id)
    assert [json.loads(line)["id"] for line in listed.splitlines()] == [added["id"]]

    def sign_in() -> httpx.Response:
        claims = assertion_claims(caller.client_id, f"{api.base_url}/oauth/token")
        return api.post(
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": key.sign(claims),
            },
        )

    assert sign_in().status_code == 200
    # An operator removes a key that leaked: its assertions are refused at once.
    removed = cli(server, "clients", "keys", "remove", caller.client_id, added["id"])
    assert f"Removed key {added['id']}" in removed
    assert cli(server, "clients", "keys", "list", caller.client_id) == ""
    assert sign_in().status_code == 401
    again = invoke(
        ["clients", "keys", "remove", caller.client_id, added["id"]],
        server.settings.data_dir,
        INTEROP_DATABASE_URL=server.database_url,
    )
    assert again.returncode == 1
    assert "error: client key not found" in again.stderr


def test_cli_refuses_bad_key_material_and_unknown_clients(
    server, api: httpx.Client, tmp_path: Path
) -> None:
    caller = new_account(server, api)
    private = tmp_path / "private.pem"
    private.write_text(KeyPair.rsa().private_pem)
    for args in (
        ["clients", "keys", "add", caller.client_id, "--pem-file", str(private)],
        ["clients", "keys", "add", "no-such-client", "--jwks-url", "https://keys.example/jwks"],
        ["clients", "keys", "add", caller.client_id],
        ["clients", "keys", "list", "no-such-client"],
    ):
        result = invoke(args, server.settings.data_dir, INTEROP_DATABASE_URL=server.database_url)
        assert result.returncode == 1, (args, result.stdout)
        assert "error:" in result.stderr
        assert "Traceback" not in result.stderr
    # A client without keys lists none, and is no error.
    assert cli(server, "clients", "keys", "list", caller.client_id) == ""


def test_lti_platforms_add_registers_a_platform_for_an_account(
    server, api: httpx.Client, tmp_path: Path
) -> None:
    caller = new_account(server, api)
    key = KeyPair.rsa()
    pem_file = tmp_path / "platform.pem"
    pem_file.write_text(key.public_pem)
    added = json.loads(
        cli(
            server,
            "lti",
            "platforms",
            "add",
            "--account-id",
            str(caller.account_id),
            "--issuer",
            "https://lms.example.edu",
            "--client-id",
            "tool-cli",
            "--deployment-id",
            "d1",
            "--pem-file",
            str(pem_file),
        )
    )
    assert added["deployment_ids"] == ["d1"]
    now = int(time.time())
    claims = {
        "iss": "https://lms.example.edu",
        "aud": "tool-cli",
        "iat": now,
        "exp": now + 60,
        "https://purl.imsglobal.org/spec/lti/claim/deployment_id": "d1",
    }
    token = key.sign(claims, kid=added["kid"])
    response = api.get("/v2/interop/clouds", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    assert "tool-cli" in cli(server, "lti", "platforms", "list")
    cli(server, "lti", "platforms", "remove", added["id"])
    assert "tool-cli" not in cli(server, "lti", "platforms", "list")
    refused = api.get("/v2/interop/clouds", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401


def test_lti_platforms_add_refuses_an_issuer_that_is_no_https_url(
    server, api: httpx.Client
) -> None:
    caller = new_account(server, api)
    args = ["lti", "platforms", "add", "--account-id", str(caller.account_id)]
    args += ["--issuer", "http://lms.example.edu", "--client-id", "tool-cli"]
    args += ["--jwks-url", "https://lms.example.edu/jwks"]
    result = invoke(args, server.settings.data_dir, INTEROP_DATABASE_URL=server.database_url)
    assert result.returncode == 1, result.stdout
    assert "must be an https URL" in result.stderr
    assert "Traceback" not in result.stderr
    assert "tool-cli" not in cli(server, "lti", "platforms", "list")


def test_clients_keys_add_refuses_a_key_the_client_has_already(
    server, api: httpx.Client, tmp_path: Path
) -> None:
    caller = new_account(server, api)
    pem_file = tmp_path / "key.pem"
    pem_file.write_text(KeyPair.ec().public_pem)
    args = ["clients", "keys", "add", caller.client_id, "--pem-file", str(pem_file)]
    added = json.loads(cli(server, *args))
    again = invoke(args, server.settings.data_dir, INTEROP_DATABASE_URL=server.database_url)
    assert again.returncode == 1, again.stdout
    assert f"the client already has this key (kid {added['kid']})" in again.stderr
    listed = cli(server, "clients", "keys", "list", caller.client_id)
    assert [json.loads(line)["id"] for line in listed.splitlines()] == [added["id"]]
