"""Tenants: TenantInfo, the account and integration filters, and an actor's own tenant."""

import uuid
from datetime import UTC, datetime, timedelta

import httpx

from factories import (
    ONEROSTER_MINIMAL,
    _database,
    actor_caller,
    install,
    json_time,
    new_account,
    new_cloud,
    new_integration,
    stored,
)
from interop.accounts.models import Account
from interop.actors.models import Actor
from interop.clouds.models import Cloud
from interop.integrations.models import Integration, IntegrationVersion
from interop.schemas import UUID_MESSAGE
from interop.tenants.models import Tenant

TENANTS = "/v2/interop/tenants"


def _ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [tenant["id"] for tenant in response.json()["data"]]


def test_tenant_info_has_every_section(server, api: httpx.Client) -> None:
    owner = new_account(server, api)
    new_integration(api, owner)
    actor = install(api, owner, new_cloud(api, owner)["id"], "gradebook")
    tenant = api.get(f"{TENANTS}/{actor['tenant_id']}", headers=owner.headers).json()["data"]
    assert set(tenant) >= {
        "id",
        "name",
        "account",
        "cloud",
        "integration",
        "license",
        "status",
        "sis_status",
        "auth",
        "created_at",
        "updated_at",
        "version",
    }
    assert set(tenant["account"]) == {"id", "name", "public_id", "timezone", "userdata"}
    assert set(tenant["cloud"]) == {"id", "name", "generation", "env"}
    assert set(tenant["status"]) == {"op_state", "setup_state", "last_sync_at"}
    assert set(tenant["auth"]) == {"type", "client_id", "client_secret", "updated_at"}


def test_filters_by_accounts_and_integration(server, api: httpx.Client) -> None:
    dev = new_account(server, api, "dev")
    new_integration(api, dev, "alpha")
    new_integration(api, dev, "beta")
    d1 = new_account(server, api, "d1", "education_agency")
    d2 = new_account(server, api, "d2", "education_agency")
    c1, c2 = new_cloud(api, d1), new_cloud(api, d2)
    t1a = install(api, d1, c1["id"], "alpha")["tenant_id"]
    t1b = install(api, d1, c1["id"], "beta")["tenant_id"]
    t2a = install(api, d2, c2["id"], "alpha")["tenant_id"]
    assert _ids(api.get(TENANTS, headers=dev.headers)) == [t1a, t1b, t2a]
    assert _ids(api.get(TENANTS, params={"accounts": d1.account_id}, headers=dev.headers)) == [
        t1a,
        t1b,
    ]
    assert _ids(api.get(TENANTS, params={"integration": "alpha"}, headers=dev.headers)) == [
        t1a,
        t2a,
    ]
    both = api.get(
        TENANTS, params={"accounts": d1.account_id, "integration": "alpha"}, headers=dev.headers
    )
    assert _ids(both) == [t1a]
    either = api.get(
        TENANTS,
        params={"accounts": f"{d1.account_id},{d2.account_id}", "integration": ["alpha", "beta"]},
        headers=dev.headers,
    )
    assert _ids(either) == [t1a, t1b, t2a]
    repeated = api.get(
        TENANTS,
        params=[("accounts", d2.account_id), ("accounts", d1.account_id)],
        headers=dev.headers,
    )
    assert _ids(repeated) == [t1a, t1b, t2a]


def test_pages_hold_the_listed_tenants_in_order(server, api: httpx.Client) -> None:
    """A page's rows are loaded by the keys its page found: walking the pages by their links
    gives the whole list once, in order, and never another developer's tenant."""
    dev, other = new_account(server, api, "dev"), new_account(server, api, "other")
    new_integration(api, dev, "alpha")
    new_integration(api, other, "omega")
    district = new_account(server, api, "district", "education_agency")
    cloud = new_cloud(api, district)
    mine = [install(api, district, cloud["id"], "alpha")["tenant_id"]]
    theirs = [install(api, district, cloud["id"], "omega")["tenant_id"]]
    for n in range(4):
        cloud_id = new_cloud(api, district, f"district-{n}")["id"]
        mine.append(install(api, district, cloud_id, "alpha")["tenant_id"])
    listed: list[str] = []
    url: str | None = f"{TENANTS}?page_size=2"
    while url is not None:
        body = api.get(url, headers=dev.headers).json()
        assert len(body["data"]) <= 2
        listed += [tenant["id"] for tenant in body["data"]]
        url = body["paging"]["next"]
    assert listed == mine
    assert _ids(api.get(TENANTS, params={"page_size": 2}, headers=other.headers)) == theirs


def test_bad_accounts_filter_is_400(server, api: httpx.Client) -> None:
    dev = new_account(server, api)
    response = api.get(TENANTS, params={"accounts": "nope"}, headers=dev.headers)
    assert response.status_code == 400
    assert response.json()["error"]["details"] == [
        {"field": "query.accounts", "message": UUID_MESSAGE}
    ]
    assert response.json()["error"]["code"] == "invalid_request"


def test_actor_reads_its_own_tenant(server, api: httpx.Client) -> None:
    owner = new_account(server, api)
    new_integration(api, owner)
    actor_json = install(api, owner, new_cloud(api, owner)["id"], "gradebook")
    actor = actor_caller(api, actor_json)
    response = api.get("/v2/interop/tenant", headers=actor.headers)
    assert response.status_code == 200
    assert response.json()["data"]["id"] == actor_json["tenant_id"]
    assert response.headers["etag"] == '"1"'


def test_connector_actor_has_no_tenant(server, api: httpx.Client) -> None:
    owner = new_account(server, api)
    cloud = new_cloud(api, owner)
    connector = api.post(
        f"/v2/interop/clouds/{cloud['id']}/actors",
        headers=owner.headers,
        json={
            "type": "connector",
            "name": "sis",
            "source": {"kind": "oneroster_csv", "location": str(ONEROSTER_MINIMAL)},
        },
    )
    actor = actor_caller(api, connector.json()["data"])
    assert api.get("/v2/interop/tenant", headers=actor.headers).status_code == 404


def test_unknown_tenant_is_404(server, api: httpx.Client) -> None:
    owner = new_account(server, api)
    assert api.get(f"{TENANTS}/{uuid.uuid4()}", headers=owner.headers).status_code == 404


def test_each_stored_value_shows_in_its_place(server, api: httpx.Client) -> None:
    """Every TenantInfo field against the row it comes from, written out by hand (the server
    maps columns to fields through one table): the two sync statuses, the two times and the
    license get values no other field holds, so a swapped column cannot pass."""
    owner = new_account(server, api)
    new_integration(api, owner)
    installed = install(api, owner, new_cloud(api, owner)["id"], "gradebook")
    tenant_id = uuid.UUID(installed["tenant_id"])
    synced, sis_synced, valid_to = (
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        datetime(2026, 2, 3, 4, 5, 6, tzinfo=UTC),
        datetime(2027, 7, 31, tzinfo=UTC),
    )
    with _database(server.database_url).transaction() as session:
        tenant = session.get_one(Tenant, tenant_id)
        tenant.op_state, tenant.setup_state, tenant.last_sync_at = "running", "ready", synced
        tenant.sis_op_state, tenant.sis_setup_state = "error", "pending"
        tenant.sis_last_sync_at = sis_synced
        tenant.license_valid_to, tenant.license_status = valid_to, "suspended"
        account = session.get_one(Account, tenant.account_id)
        account.userdata = "notes of the district"
        cloud = session.get_one(Cloud, tenant.cloud_id)
        integration = session.get_one(Integration, tenant.integration_id)
        version = session.get_one(IntegrationVersion, tenant.integration_version_id)
        actor = session.get_one(Actor, tenant.actor_id)
        session.flush()
        expected = {
            "id": str(tenant.id),
            "name": tenant.name,
            "account": {
                "id": str(account.id),
                "name": account.name,
                "public_id": account.public_id,
                "timezone": account.timezone,
                "userdata": "notes of the district",
            },
            "cloud": {
                "id": str(cloud.id),
                "name": cloud.name,
                "generation": cloud.generation,
                "env": {"id": str(cloud.env_id), "name": cloud.env_name},
            },
            "integration": {
                "id": str(integration.id),
                "name": integration.name,
                "version": version.version,
            },
            "license": {
                "valid_from": json_time(tenant.license_valid_from),
                "valid_to": "2027-07-31T00:00:00Z",
                "status": "suspended",
            },
            "status": {
                "op_state": "running",
                "setup_state": "ready",
                "last_sync_at": "2026-01-02T03:04:05Z",
            },
            "sis_status": {
                "op_state": "error",
                "setup_state": "pending",
                "last_sync_at": "2026-02-03T04:05:06Z",
            },
            "auth": {
                "type": "oauth2_client_credentials",
                "client_id": installed["credentials"]["client_id"],
                "client_secret": installed["credentials"]["client_secret"],
                "updated_at": json_time(actor.updated_at),
            },
            "created_at": json_time(tenant.created_at),
            "updated_at": json_time(tenant.updated_at),
            "version": tenant.version,
        }
    listed = api.get(TENANTS, headers=owner.headers).json()["data"]
    found = api.get(f"{TENANTS}/{tenant_id}", headers=owner.headers).json()["data"]
    own = api.get("/v2/interop/tenant", headers=actor_caller(api, installed).headers).json()
    assert listed == [expected]
    assert found == expected
    assert own["data"] == expected


def _license_ends(
    server, tenant_id: str, valid_to: datetime | None, status: str = "active"
) -> None:
    """Stores the license's end (and status) past the API: an end in the past is what time
    passing leaves, and no request may write one (nor a suspension)."""
    with _database(server.database_url).transaction() as session:
        tenant = session.get_one(Tenant, uuid.UUID(tenant_id))
        tenant.license_valid_to, tenant.license_status = valid_to, status


def test_license_reads_expired_once_valid_to_has_passed(server, api: httpx.Client) -> None:
    owner = new_account(server, api)
    new_integration(api, owner)
    lapsed, running, endless = (
        install(api, owner, new_cloud(api, owner, f"cloud-{n}")["id"], "gradebook")
        for n in range(3)
    )
    _license_ends(server, lapsed["tenant_id"], datetime.now(UTC) - timedelta(seconds=1))
    _license_ends(server, running["tenant_id"], datetime(2099, 1, 1, tzinfo=UTC))
    _license_ends(server, endless["tenant_id"], None)
    listed = {
        tenant["id"]: tenant["license"]["status"]
        for tenant in api.get(TENANTS, headers=owner.headers).json()["data"]
    }
    assert listed == {
        lapsed["tenant_id"]: "expired",
        running["tenant_id"]: "active",
        endless["tenant_id"]: "active",
    }
    found = api.get(f"{TENANTS}/{lapsed['tenant_id']}", headers=owner.headers).json()["data"]
    assert found["license"]["status"] == "expired"
    # The actor is not cut off: its token still works, and it reads its own license's state.
    own = api.get("/v2/interop/tenant", headers=actor_caller(api, lapsed).headers)
    assert own.status_code == 200
    assert own.json()["data"]["license"]["status"] == "expired"
    # Computed on reading: nothing was written, so the tenant's version and ETag stay.
    assert stored(server, Tenant, lapsed["tenant_id"], "license_status") == "active"
    assert found["version"] == 1


def test_suspended_license_stays_suspended_after_valid_to(server, api: httpx.Client) -> None:
    owner = new_account(server, api)
    new_integration(api, owner)
    actor = install(api, owner, new_cloud(api, owner)["id"], "gradebook")
    _license_ends(server, actor["tenant_id"], datetime(2000, 1, 1, tzinfo=UTC), "suspended")
    found = api.get(f"{TENANTS}/{actor['tenant_id']}", headers=owner.headers).json()["data"]
    assert found["license"]["status"] == "suspended"
