"""Who sees what (SPEC §2), as one table: every principal against every kind of object.

A district sits under a state agency and has a child; a developer's integration is installed
in the district's cloud. Invisible objects are 404 (never 403), lists leave them out, and
refused writes change nothing.
"""

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from factories import Caller, actor_caller, install, new_account, new_cloud, new_integration

PRINCIPALS = (
    "anonymous",
    "operator",
    "owner",
    "parent",
    "child",
    "developer_owner",
    "other_developer",
    "stranger",
    "actor_of_other_tenant",
)


@dataclass
class World:
    callers: dict[str, Caller | None]
    cloud_id: str
    tenant_id: str
    integration_id: str

    def headers(self, principal: str) -> dict[str, str]:
        caller = self.callers[principal]
        return caller.headers if caller else {}


@pytest.fixture
def world(server, api: httpx.Client) -> World:
    operator = new_account(server, api, "operator", "kimono")
    state = new_account(server, api, "state", "state_education_agency")
    district = new_account(server, api, "district", "education_agency", parent=state)
    school = new_account(server, api, "school", "education_agency", parent=district)
    developer = new_account(server, api, "dev", "developer")
    other_developer = new_account(server, api, "other-dev", "developer")
    stranger = new_account(server, api, "stranger", "education_agency")
    integration = new_integration(api, developer, "gradebook")
    cloud = new_cloud(api, district, "district-cloud")
    tenant_id = install(api, district, cloud["id"], "gradebook")["tenant_id"]
    new_integration(api, other_developer, "planner")
    other_actor = actor_caller(
        api, install(api, stranger, new_cloud(api, stranger)["id"], "planner")
    )
    return World(
        callers={
            "anonymous": None,
            "operator": operator,
            "owner": district,
            "parent": state,
            "child": school,
            "developer_owner": developer,
            "other_developer": other_developer,
            "stranger": stranger,
            "actor_of_other_tenant": other_actor,
        },
        cloud_id=cloud["id"],
        tenant_id=tenant_id,
        integration_id=integration["id"],
    )


def _expect(seen_by: set[str]) -> dict[str, int]:
    """200 for those who see, 401 anonymous, 403 actors on account endpoints, else 404."""
    expected = {}
    for principal in PRINCIPALS:
        if principal == "anonymous":
            expected[principal] = 401
        elif principal == "actor_of_other_tenant":
            expected[principal] = 403
        else:
            expected[principal] = 200 if principal in seen_by else 404
    return expected


CLOUD_READERS = {"operator", "owner", "parent"}
TENANT_READERS = {"operator", "owner", "parent", "developer_owner"}
INTEGRATION_READERS = {"operator", "developer_owner"}

READS: dict[str, tuple[str, set[str]]] = {
    "get cloud": ("/v2/interop/clouds/{cloud_id}", CLOUD_READERS),
    "list cloud actors": ("/v2/interop/clouds/{cloud_id}/actors", CLOUD_READERS),
    "get tenant": ("/v2/interop/tenants/{tenant_id}", TENANT_READERS),
    "get integration": ("/v2/interop/integrations/{integration_id}", INTEGRATION_READERS),
    "list integration versions": (
        "/v2/interop/integrations/{integration_id}/versions",
        INTEGRATION_READERS,
    ),
}
LISTS: dict[str, tuple[str, str, set[str]]] = {
    "clouds list": ("/v2/interop/clouds", "cloud_id", CLOUD_READERS),
    "clouds search": ("/v2/interop/clouds/search", "cloud_id", CLOUD_READERS),
    "tenants list": ("/v2/interop/tenants", "tenant_id", TENANT_READERS),
    "integrations list": ("/v2/interop/integrations", "integration_id", INTEGRATION_READERS),
}
CASES = [(name, principal) for name in READS for principal in PRINCIPALS]
LIST_CASES = [(name, principal) for name in LISTS for principal in PRINCIPALS]


@pytest.mark.parametrize(("operation", "principal"), CASES)
def test_reading_by_id(world: World, api: httpx.Client, operation: str, principal: str) -> None:
    template, readers = READS[operation]
    url = template.format(**world.__dict__)
    response = api.get(url, headers=world.headers(principal))
    assert response.status_code == _expect(readers)[principal], response.text
    if response.status_code != 200:
        assert set(response.json()) == {"error"}


@pytest.mark.parametrize(("operation", "principal"), LIST_CASES)
def test_lists_leave_out_what_is_invisible(
    world: World, api: httpx.Client, operation: str, principal: str
) -> None:
    path, id_field, readers = LISTS[operation]
    response = api.get(path, headers=world.headers(principal))
    expected = _expect(readers)[principal]
    if expected != 200 and principal in ("anonymous", "actor_of_other_tenant"):
        assert response.status_code == expected
        return
    assert response.status_code == 200
    ids = {item["id"] for item in response.json()["data"]}
    assert (getattr(world, id_field) in ids) == (principal in readers)


WRITERS_OF = {"cloud": CLOUD_READERS, "integration": INTEGRATION_READERS}


def _snapshot(api: httpx.Client, world: World) -> Any:
    operator = world.headers("operator")
    return (
        api.get(f"/v2/interop/clouds/{world.cloud_id}", headers=operator).json(),
        api.get(f"/v2/interop/clouds/{world.cloud_id}/actors", headers=operator).json()["data"],
        api.get(f"/v2/interop/integrations/{world.integration_id}", headers=operator).json(),
    )


WRITES: dict[str, tuple[str, str, str, dict[str, Any] | None]] = {
    "delete cloud": ("cloud", "DELETE", "/v2/interop/clouds/{cloud_id}", None),
    "install in cloud": (
        "cloud",
        "POST",
        "/v2/interop/clouds/{cloud_id}/actors",
        {"type": "connector", "name": "x", "source": {"kind": "oneroster_csv", "location": "/x"}},
    ),
    "patch integration": (
        "integration",
        "PATCH",
        "/v2/interop/integrations/{integration_id}",
        {"title": "hijacked"},
    ),
    "delete integration": (
        "integration",
        "DELETE",
        "/v2/interop/integrations/{integration_id}",
        None,
    ),
}
WRITE_CASES = [
    (name, principal)
    for name in WRITES
    for principal in PRINCIPALS
    if principal not in WRITERS_OF[WRITES[name][0]]
]


@pytest.mark.parametrize(("operation", "principal"), WRITE_CASES)
def test_refused_writes_change_nothing(
    world: World, api: httpx.Client, operation: str, principal: str
) -> None:
    kind, method, template, body = WRITES[operation]
    before = _snapshot(api, world)
    response = api.request(
        method, template.format(**world.__dict__), json=body, headers=world.headers(principal)
    )
    assert response.status_code == _expect(WRITERS_OF[kind])[principal], response.text
    assert _snapshot(api, world) == before


def test_matrix_covers_every_principal_for_every_read() -> None:
    total = len(CASES) + len(LIST_CASES) + len(WRITE_CASES)
    assert total == len(PRINCIPALS) * (len(READS) + len(LISTS)) + len(WRITE_CASES)
    assert {principal for _, principal in WRITE_CASES} == set(PRINCIPALS) - {"operator"}
