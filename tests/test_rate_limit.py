"""Per-principal rate limiting: off by default; when set, 429 `rate_limited` with Retry-After,
counted per credentials (one client's burst does not limit another)."""

import httpx

from factories import new_account
from jwt_parties import KeyPair, assertion_claims


def test_rate_limiting_is_off_by_default(server, api):
    caller = new_account(server, api, "busy")
    statuses = {
        api.get("/v2/interop/clouds", headers=caller.headers).status_code for _ in range(30)
    }
    assert statuses == {200}


def test_over_the_limit_is_429_with_retry_after_per_principal(server, api, extra_server):
    base_url = extra_server(rate_limit_per_minute=6, rate_limit_burst=3)
    first = new_account(server, api, "first")
    second = new_account(server, api, "second")
    with httpx.Client(base_url=base_url, timeout=10) as limited:
        allowed = [limited.get("/v2/interop/clouds", headers=first.headers) for _ in range(3)]
        assert [response.status_code for response in allowed] == [200, 200, 200]

        refused = limited.get("/v2/interop/clouds", headers=first.headers)
        assert refused.status_code == 429
        error = refused.json()["error"]
        assert (error["status"], error["code"]) == (429, "rate_limited")
        # 6 a minute: one request every 10 s refills.
        assert 1 <= int(refused.headers["Retry-After"]) <= 10
        assert error["details"] == {"retry_after": int(refused.headers["Retry-After"])}

        # Writes draw on the same bucket (and refused, change nothing).
        write = limited.post("/v2/interop/clouds", json={"name": "x"}, headers=first.headers)
        assert write.status_code == 429
        assert api.get("/v2/interop/clouds", headers=first.headers).json()["data"] == []

        # Another principal has its own bucket, for reads and writes.
        assert limited.get("/v2/interop/clouds", headers=second.headers).status_code == 200
        write = limited.post("/v2/interop/clouds", json={"name": "y"}, headers=second.headers)
        assert write.status_code == 200, write.text


def test_the_limit_is_documented_in_the_openapi_document(server, api):
    document = api.get("/openapi.json").json()
    responses = document["paths"]["/v2/interop/clouds"]["get"]["responses"]
    assert "429" in responses
    codes = responses["429"]["content"]["application/json"]["schema"]["properties"]["error"]
    assert codes["properties"]["code"]["enum"] == ["rate_limited"]


def token_request(client: httpx.Client, client_id: str, secret: str) -> httpx.Response:
    return client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    )


def test_token_requests_draw_on_the_named_clients_bucket_right_secret_or_wrong(
    server, api, extra_server
):
    base_url = extra_server(rate_limit_per_minute=6, rate_limit_burst=3)
    target = new_account(server, api, "target")
    bystander = new_account(server, api, "bystander")
    with httpx.Client(base_url=base_url, timeout=10) as limited:
        # Two guesses and one right secret use the burst up.
        guesses = [token_request(limited, target.client_id, "wrong") for _ in range(2)]
        assert [response.status_code for response in guesses] == [401, 401]
        assert token_request(limited, target.client_id, target.client_secret).status_code == 200

        # Then the right secret and a wrong one get the same answer: a guesser learns nothing.
        for secret in (target.client_secret, "wrong"):
            refused = token_request(limited, target.client_id, secret)
            assert refused.status_code == 429, refused.text
            assert refused.json()["error"] == "rate_limited"
            assert "access_token" not in refused.json()
            assert 1 <= int(refused.headers["Retry-After"]) <= 10
            assert refused.headers["Cache-Control"] == "no-store"

        # Secrets sent in the form count against the same client.
        form = {"grant_type": "client_credentials", "client_id": target.client_id}
        posted = limited.post("/oauth/token", data={**form, "client_secret": "wrong"})
        assert posted.status_code == 429

        # Another client keeps its own bucket.
        assert (
            token_request(limited, bystander.client_id, bystander.client_secret).status_code == 200
        )


def test_a_client_id_that_names_no_client_gets_no_bucket(server, api, extra_server):
    base_url = extra_server(rate_limit_per_minute=6, rate_limit_burst=3)
    with httpx.Client(base_url=base_url, timeout=10) as limited:
        statuses = {token_request(limited, "no-such-client", "guess").status_code for _ in range(6)}
    assert statuses == {401}


def test_failed_basic_sign_ins_on_the_api_draw_on_the_keys_bucket(server, api, extra_server):
    base_url = extra_server(rate_limit_per_minute=6, rate_limit_burst=3)
    target = new_account(server, api, "target")
    with httpx.Client(base_url=base_url, timeout=10) as limited:
        wrong = [
            limited.get("/v2/interop/clouds", auth=(target.client_id, "wrong")) for _ in range(3)
        ]
        assert [response.status_code for response in wrong] == [401, 401, 401]
        for secret in (target.client_secret, "wrong"):
            refused = limited.get("/v2/interop/clouds", auth=(target.client_id, secret))
            assert refused.status_code == 429, refused.text
            assert refused.json()["error"]["code"] == "rate_limited"
        # The key's bearer tokens share the bucket: the guesses spent them as well.
        assert limited.get("/v2/interop/clouds", headers=target.headers).status_code == 429


def test_an_assertion_draws_on_the_bucket_of_the_client_it_names(server, api, extra_server):
    base_url = extra_server(rate_limit_per_minute=6, rate_limit_burst=2)
    target = new_account(server, api, "target")
    key = KeyPair.rsa()
    registered = api.post(
        f"/v2/interop/clients/{target.client_id}/keys",
        json={"jwk": key.public_jwk},
        headers=target.headers,
    )
    assert registered.status_code == 200, registered.text
    with httpx.Client(base_url=base_url, timeout=10) as limited:
        audience = f"{base_url}/oauth/token"

        def assertion_token(audience: str) -> httpx.Response:
            claims = assertion_claims(target.client_id, audience)
            form = {
                "grant_type": "client_credentials",
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": key.sign(claims),
            }
            return limited.post("/oauth/token", data=form)

        assert assertion_token("https://elsewhere.example/token").status_code == 401
        accepted = assertion_token(audience)
        assert accepted.status_code == 200, accepted.text
        refused = assertion_token(audience)
        assert refused.status_code == 429, refused.text
        assert refused.json()["error"] == "rate_limited"
