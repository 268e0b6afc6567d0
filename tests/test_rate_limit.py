"""Per-principal rate limiting: off by default; when set, 429 `rate_limited` with Retry-After,
counted per credentials (one client's burst does not limit another)."""

import httpx

from factories import new_account


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
