"""Who may do what, as one table: every operation of /openapi.json against every kind of
principal, on objects it should and should not reach.

A district (the owner) sits under a state agency (parent) and has a child account; a
developer's integration is installed in the district's cloud as a tenant with its own actor;
another developer's integration is installed for a stranger (another tenant, another actor).
Each case sends one request and checks the status: 401 for no, expired or forged
credentials; 403 for the other principal kind; 404 (never 403) for objects out of reach; the
operation's own success, or a documented domain conflict, for those within reach. A refused
request must change nothing: the whole database is compared before and after.

The world is built once per database and reused while it is intact; writes that succeed act
on disposable objects made for the case, so they never spoil it.
"""

import itertools
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

from factories import (
    ONEROSTER_MINIMAL,
    Caller,
    actor_caller,
    blueprint_xml,
    install,
    install_connector,
    new_account,
    new_cloud,
    new_integration,
    queue_collection,
    run_worker,
)
from interop.auth.keys import KeyRing
from interop.auth.secrets import SecretBox, load_master_secret
from interop.auth.service import AUDIENCE
from interop.db import Database
from interop.models import Base

UNAUTHENTICATED = ("anonymous", "expired_token", "foreign_key_token")
ACCOUNTS = (
    "operator",
    "owner",
    "parent",
    "child",
    "developer_owner",
    "other_developer",
    "other_account",
)
ACTORS = ("same_tenant_actor", "other_tenant_actor")
PRINCIPALS = UNAUTHENTICATED + ACCOUNTS + ACTORS

CLOUD_REACH = frozenset({"operator", "owner", "parent"})
TENANT_REACH = CLOUD_REACH | {"developer_owner"}
INTEGRATION_REACH = frozenset({"operator", "developer_owner"})
TENANT_ACTOR = frozenset({"same_tenant_actor"})
INGESTION_REACH = TENANT_REACH | TENANT_ACTOR
# The owner's keys: managed from above (its parent, the operator), never by the owner itself.
ACCOUNT_KEYS_REACH = frozenset({"operator", "parent"})
# Endpoints that take no credentials at all.
PUBLIC = {
    ("POST", "/oauth/token"),
    ("GET", "/.well-known/jwks.json"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
}
_sequence = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_sequence)}-{uuid.uuid4().hex[:6]}"


@dataclass
class World:
    callers: dict[str, Caller]
    tokens: dict[str, str]
    ids: dict[str, str]
    api: httpx.Client
    database: Database

    def headers(self, principal: str, kind: str) -> dict[str, str]:
        if principal == "anonymous":
            return {}
        if principal in ("expired_token", "foreign_key_token"):
            who = "actor" if kind == "actor" else "account"
            return {"Authorization": f"Bearer {self.tokens[f'{principal}:{who}']}"}
        return self.callers[principal].headers

    def owner_does(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """A set-up request by the object's rightful owner; its JSON data."""
        who = "same_tenant_actor" if path.startswith("/v2/interop/tenant/") else "owner"
        response = self.api.request(method, path, headers=self.callers[who].headers, **kwargs)
        assert response.status_code in (200, 201), response.text
        return dict(response.json()["data"])


@dataclass(frozen=True)
class Op:
    """One operation: whose principal kind it takes, who reaches its object, what success
    looks like, and how to make the request."""

    method: str
    path: str
    kind: str  # "account", "actor" or "any"
    reach: frozenset[str]
    ok: tuple[int, ...] = (200,)
    # Acts in the caller's own scope (creates, lists): every principal of the kind succeeds;
    # `listed` (an id key) must appear in the answer exactly for those who reach it.
    own_scope: bool = False
    listed: str | None = None
    # Path parameters of a disposable object made for the case (for writes that consume it).
    target: Callable[[World], dict[str, str]] | None = None
    body: Callable[[World, str], dict[str, Any]] | None = None
    content: Callable[[World, str], tuple[bytes, str]] | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.method, self.path)

    def expected(self, principal: str) -> tuple[int, ...]:
        if principal in UNAUTHENTICATED:
            return (401,)
        is_actor = principal in ACTORS
        if (self.kind == "account" and is_actor) or (self.kind == "actor" and not is_actor):
            return (403,)
        if principal in self.reach or self.own_scope:
            return self.ok
        return (404,)


# -- disposable targets and bodies -------------------------------------------------------


def _connector(world: World) -> dict[str, str]:
    connector = install_connector(
        world.api, world.callers["owner"], world.ids["cloud_id"], str(ONEROSTER_MINIMAL)
    )
    return {"actor_id": connector["id"]}


def _cloud(world: World) -> dict[str, str]:
    return {"cloud_id": new_cloud(world.api, world.callers["owner"], unique("spare"))["id"]}


def _integration(world: World) -> dict[str, str]:
    created = world.api.post(
        "/v2/interop/integrations",
        json={"name": unique("spare")},
        headers=world.callers["developer_owner"].headers,
    )
    assert created.status_code == 200, created.text
    return {"integration_id": created.json()["data"]["id"]}


def _version(world: World) -> dict[str, str]:
    version = f"9.{next(_sequence)}"
    response = world.api.post(
        f"/v2/interop/integrations/{world.ids['integration_id']}/versions",
        content=blueprint_xml(version),
        headers={**world.callers["developer_owner"].headers, "Content-Type": "application/xml"},
    )
    assert response.status_code == 200, response.text
    return {"version": version}


def _scoping(topic: str) -> Callable[[World], dict[str, str]]:
    def make(world: World) -> dict[str, str]:
        ref = "school_ref_id" if topic == "schools" else "course_ref_id"
        path = f"/v2/interop/tenant/scoping/{topic}"
        existing = world.api.get(path, headers=world.callers["same_tenant_actor"].headers)
        entries = [{ref: row[ref]} for row in existing.json()["data"]] + [{ref: unique("ref")}]
        rows = world.api.post(
            path, json={"data": entries}, headers=world.callers["same_tenant_actor"].headers
        )
        assert rows.status_code == 200, rows.text
        return {"entry_id": rows.json()["data"][-1]["id"]}

    return make


def _rollover_body(world: World, principal: str) -> dict[str, Any]:
    start = datetime(2030, 1, 1, tzinfo=UTC) + timedelta(days=3 * next(_sequence))
    cloud = world.ids["other_cloud_id" if principal == "other_tenant_actor" else "cloud_id"]
    return {
        "name": unique("rollover"),
        "start_date": start.isoformat(),
        "end_date": (start + timedelta(days=1)).isoformat(),
        "type": "suspend_collection",
        "status": "scheduled",
        "cloud_id": cloud,
    }


def _rollover(world: World) -> dict[str, str]:
    body = _rollover_body(world, "same_tenant_actor")
    return {
        "rollover_id": world.owner_does("POST", "/v2/interop/tenant/rollovers", json=body)["id"]
    }


def _spare_schedule(world: World) -> dict[str, str]:
    """A schedule other than the world's own (refused deletes leave it for the next case)."""
    headers = world.callers["same_tenant_actor"].headers
    schedules = world.api.get("/v2/interop/tenant/schedules", headers=headers).json()["data"]
    spare = [row["id"] for row in schedules if row["id"] != world.ids["schedule_id"]]
    if spare:
        return {"schedule_id": spare[0]}
    taken = {row["hour"] for row in schedules}
    hour = min(set(range(24)) - taken)
    return {
        "schedule_id": world.owner_does(
            "POST", "/v2/interop/tenant/schedules", json={"hour": hour}
        )["id"]
    }


def _client_key(world: World) -> dict[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    jwk = jwt.algorithms.ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    client_id = world.callers["owner"].client_id
    made = world.owner_does("POST", f"/v2/interop/clients/{client_id}/keys", json={"jwk": jwk})
    return {"key_id": made["id"]}


def _account_key(world: World) -> dict[str, str]:
    response = world.api.post(
        f"/v2/interop/accounts/{world.ids['account_id']}/keys",
        headers=world.callers["parent"].headers,
    )
    assert response.status_code == 200, response.text
    return {"key_client_id": response.json()["data"]["client_id"]}


def _platform_body(world: World, principal: str) -> dict[str, Any]:
    key = ec.generate_private_key(ec.SECP256R1())
    return {
        "issuer": "https://lms.example.edu",
        "client_id": unique("tool"),
        "jwk": jwt.algorithms.ECAlgorithm.to_jwk(key.public_key(), as_dict=True),
    }


def _platform(world: World) -> dict[str, str]:
    body = _platform_body(world, "owner")
    return {"platform_id": world.owner_does("POST", "/v2/interop/lti/platforms", json=body)["id"]}


def _blueprint(world: World, principal: str) -> tuple[bytes, str]:
    return blueprint_xml("1.0"), "application/xml"


def _new_version(world: World, principal: str) -> tuple[bytes, str]:
    return blueprint_xml(f"8.{next(_sequence)}"), "application/xml"


def _scoping_body(topic: str) -> Callable[[World, str], dict[str, Any]]:
    ref = "school_ref_id" if topic == "schools" else "course_ref_id"
    return lambda world, principal: {"data": [{ref: unique("ref")}]}


def _scoping_entry(topic: str) -> Callable[[World, str], dict[str, Any]]:
    ref = "school_ref_id" if topic == "schools" else "course_ref_id"
    return lambda world, principal: {ref: unique("ref")}


def _named(world: World, principal: str) -> dict[str, Any]:
    return {"name": unique("made")}


def _hour(world: World, principal: str) -> dict[str, Any]:
    return {"hour": next(_sequence) % 24}


def _roster(topic: str, key: str) -> list[Op]:
    return [
        Op("GET", f"/v2/interop/data/{topic}", "actor", TENANT_ACTOR, own_scope=True),
        Op("GET", f"/v2/interop/data/{topic}/{{{key}}}", "actor", TENANT_ACTOR),
    ]


CONFLICT = (409,)
SCOPING = "/v2/interop/tenant/scoping"
OPERATIONS: list[Op] = [
    # Clouds
    Op("GET", "/v2/interop/clouds", "account", CLOUD_REACH, own_scope=True, listed="cloud_id"),
    Op("POST", "/v2/interop/clouds", "account", frozenset(), own_scope=True, body=_named),
    Op(
        "GET",
        "/v2/interop/clouds/search",
        "account",
        CLOUD_REACH,
        own_scope=True,
        listed="cloud_id",
    ),
    Op("GET", "/v2/interop/clouds/{cloud_id}", "account", CLOUD_REACH),
    Op("DELETE", "/v2/interop/clouds/{cloud_id}", "account", CLOUD_REACH, (204,), target=_cloud),
    # Actors
    Op("GET", "/v2/interop/actors", "account", CLOUD_REACH, own_scope=True, listed="actor_id"),
    Op("GET", "/v2/interop/clouds/{cloud_id}/actors", "account", CLOUD_REACH),
    Op(
        "POST",
        "/v2/interop/clouds/{cloud_id}/actors",
        "account",
        CLOUD_REACH,
        body=lambda world, principal: {
            "type": "connector",
            "name": unique("sis"),
            "source": {"kind": "oneroster_csv", "location": str(ONEROSTER_MINIMAL)},
        },
    ),
    Op(
        "DELETE",
        "/v2/interop/clouds/{cloud_id}/actors/{actor_id}",
        "account",
        CLOUD_REACH,
        (204,),
        target=_connector,
    ),
    Op(
        "POST",
        "/v2/interop/clouds/{cloud_id}/actors/{actor_id}/credentials",
        "account",
        CLOUD_REACH,
        target=_connector,
    ),
    # Integrations and versions
    Op(
        "GET",
        "/v2/interop/integrations",
        "account",
        INTEGRATION_REACH,
        own_scope=True,
        listed="integration_id",
    ),
    Op("POST", "/v2/interop/integrations", "account", frozenset(), own_scope=True, body=_named),
    Op("GET", "/v2/interop/integrations/{integration_id}", "account", INTEGRATION_REACH),
    Op(
        "PATCH",
        "/v2/interop/integrations/{integration_id}",
        "account",
        INTEGRATION_REACH,
        (204,),
        body=lambda world, principal: {"title": unique("title")},
    ),
    Op(
        "DELETE",
        "/v2/interop/integrations/{integration_id}",
        "account",
        INTEGRATION_REACH,
        (204,),
        target=_integration,
    ),
    Op("GET", "/v2/interop/integrations/{integration_id}/versions", "account", INTEGRATION_REACH),
    Op(
        "POST",
        "/v2/interop/integrations/{integration_id}/versions",
        "account",
        INTEGRATION_REACH,
        content=_new_version,
    ),
    Op(
        "PATCH",
        "/v2/interop/integrations/{integration_id}/versions/{version}",
        "account",
        INTEGRATION_REACH,
        (204,),
        body=lambda world, principal: {"release_state": "released"},
    ),
    Op(
        "DELETE",
        "/v2/interop/integrations/{integration_id}/versions/{version}",
        "account",
        INTEGRATION_REACH,
        (204,),
        target=_version,
    ),
    Op(
        "GET",
        "/v2/interop/integrations/{integration_id}/versions/{version}",
        "account",
        INTEGRATION_REACH,
    ),
    Op(
        "PUT",
        "/v2/interop/integrations/{integration_id}/versions/{version}/blueprint",
        "account",
        INTEGRATION_REACH,
        (200, 409),
        content=_blueprint,
    ),
    # Tenants
    Op("GET", "/v2/interop/tenants", "account", TENANT_REACH, own_scope=True, listed="tenant_id"),
    Op("GET", "/v2/interop/tenants/{tenant_id}", "account", TENANT_REACH),
    Op("GET", "/v2/interop/tenant", "actor", TENANT_ACTOR, own_scope=True),
    Op("GET", "/v2/interop/tenant/state", "actor", TENANT_ACTOR, own_scope=True),
    # Scoping
    *[
        op
        for topic in ("schools", "courses")
        for op in (
            Op("GET", f"{SCOPING}/{topic}", "actor", TENANT_ACTOR, own_scope=True),
            Op(
                "POST",
                f"{SCOPING}/{topic}",
                "actor",
                TENANT_ACTOR,
                own_scope=True,
                body=_scoping_body(topic),
            ),
            Op("DELETE", f"{SCOPING}/{topic}", "actor", TENANT_ACTOR, (204,), own_scope=True),
            Op(
                "GET",
                f"{SCOPING}/{topic}/{{entry_id}}",
                "actor",
                TENANT_ACTOR,
                target=_scoping(topic),
            ),
            Op(
                "PUT",
                f"{SCOPING}/{topic}/{{entry_id}}",
                "actor",
                TENANT_ACTOR,
                target=_scoping(topic),
                body=_scoping_entry(topic),
            ),
            Op(
                "DELETE",
                f"{SCOPING}/{topic}/{{entry_id}}",
                "actor",
                TENANT_ACTOR,
                (204,),
                target=_scoping(topic),
            ),
        )
    ],
    # Application
    Op("GET", "/v2/interop/tenant/application", "actor", TENANT_ACTOR, own_scope=True),
    Op(
        "PATCH",
        "/v2/interop/tenant/application",
        "actor",
        TENANT_ACTOR,
        (200, 409),
        own_scope=True,
        body=lambda world, principal: {"auth_message": "hello"},
    ),
    Op("POST", "/v2/interop/tenants/{tenant_id}/application/auth-session", "account", TENANT_REACH),
    # Rollovers
    Op("GET", "/v2/interop/tenant/rollovers", "actor", TENANT_ACTOR, own_scope=True),
    Op(
        "POST",
        "/v2/interop/tenant/rollovers",
        "actor",
        TENANT_ACTOR,
        own_scope=True,
        body=_rollover_body,
    ),
    Op("GET", "/v2/interop/tenant/rollovers/count", "actor", TENANT_ACTOR, own_scope=True),
    Op(
        "GET", "/v2/interop/tenant/rollovers/{rollover_id}", "actor", TENANT_ACTOR, target=_rollover
    ),
    Op(
        "PUT",
        "/v2/interop/tenant/rollovers/{rollover_id}",
        "actor",
        TENANT_ACTOR,
        target=_rollover,
        body=_rollover_body,
    ),
    Op(
        "DELETE",
        "/v2/interop/tenant/rollovers/{rollover_id}",
        "actor",
        TENANT_ACTOR,
        (204,),
        target=_rollover,
    ),
    # Schedules
    Op("GET", "/v2/interop/tenant/schedules", "actor", TENANT_ACTOR, own_scope=True),
    Op(
        "POST",
        "/v2/interop/tenant/schedules",
        "actor",
        TENANT_ACTOR,
        (200, 409),
        own_scope=True,
        body=_hour,
    ),
    Op("GET", "/v2/interop/tenant/schedules/count", "actor", TENANT_ACTOR, own_scope=True),
    Op("GET", "/v2/interop/tenant/schedules/{schedule_id}", "actor", TENANT_ACTOR),
    Op(
        "PATCH",
        "/v2/interop/tenant/schedules/{schedule_id}",
        "actor",
        TENANT_ACTOR,
        (204,),
        body=lambda world, principal: {"enabled": True},
    ),
    Op(
        "DELETE",
        "/v2/interop/tenant/schedules/{schedule_id}",
        "actor",
        TENANT_ACTOR,
        (204,),
        target=_spare_schedule,
    ),
    Op("POST", "/v2/interop/tenant/schedules/{schedule_id}/run", "actor", TENANT_ACTOR, (204, 409)),
    # Ingestions
    Op(
        "GET",
        "/v2/interop/ingestions",
        "any",
        INGESTION_REACH,
        own_scope=True,
        listed="ingestion_id",
    ),
    Op("GET", "/v2/interop/ingestions/count", "any", INGESTION_REACH, own_scope=True),
    Op("GET", "/v2/interop/ingestions/{ingestion_id}", "any", INGESTION_REACH),
    # Roster data
    *_roster("orgs", "org_id"),
    *_roster("academic_sessions", "academic_session_id"),
    *_roster("courses", "course_id"),
    *_roster("classes", "class_id"),
    *_roster("users", "user_id"),
    *_roster("enrollments", "enrollment_id"),
    *_roster("demographics", "demographic_id"),
    # Client keys and LTI platforms
    Op(
        "POST",
        "/v2/interop/clients/{client_id}/keys",
        "account",
        CLOUD_REACH,
        # A URL per case: a client registers a key once (409 client_key_exists after).
        body=lambda world, principal: {"jwks_url": f"https://keys.example.edu/{unique('k')}.json"},
    ),
    Op("GET", "/v2/interop/clients/{client_id}/keys", "account", CLOUD_REACH),
    Op(
        "DELETE",
        "/v2/interop/clients/{client_id}/keys/{key_id}",
        "account",
        CLOUD_REACH,
        (204,),
        target=_client_key,
    ),
    Op(
        "POST",
        "/v2/interop/lti/platforms",
        "account",
        frozenset(),
        own_scope=True,
        body=_platform_body,
    ),
    Op(
        "GET",
        "/v2/interop/lti/platforms",
        "account",
        CLOUD_REACH,
        own_scope=True,
        listed="platform_id",
    ),
    Op(
        "DELETE",
        "/v2/interop/lti/platforms/{platform_id}",
        "account",
        CLOUD_REACH,
        (204,),
        target=_platform,
    ),
    # Account keys
    Op("GET", "/v2/interop/accounts/{account_id}/keys", "account", ACCOUNT_KEYS_REACH),
    Op("POST", "/v2/interop/accounts/{account_id}/keys", "account", ACCOUNT_KEYS_REACH),
    Op(
        "DELETE",
        "/v2/interop/accounts/{account_id}/keys/{key_client_id}",
        "account",
        ACCOUNT_KEYS_REACH,
        (204,),
        target=_account_key,
    ),
]
OPS = {op.key: op for op in OPERATIONS}
# Path templates above name their parameters; the document calls most of them {id}.
DOCUMENT_NAMES = {
    "cloud_id": "id",
    "integration_id": "id",
    "tenant_id": "id",
    "entry_id": "id",
    "rollover_id": "id",
    "schedule_id": "id",
    "ingestion_id": "id",
    "key_id": "id",
    "platform_id": "id",
    "account_id": "id",
    "key_client_id": "client_id",
}
CASES = [(op.method, op.path, principal) for op in OPERATIONS for principal in PRINCIPALS]


def document_path(path: str) -> str:
    for ours, theirs in DOCUMENT_NAMES.items():
        path = path.replace(f"{{{ours}}}", f"{{{theirs}}}")
    for roster_key in (
        "org_id",
        "academic_session_id",
        "course_id",
        "class_id",
        "user_id",
        "enrollment_id",
        "demographic_id",
    ):
        path = path.replace(f"{{{roster_key}}}", "{sourced_id}")
    return path


# -- the world ----------------------------------------------------------------------------

_worlds: dict[str, World] = {}


@pytest.fixture
def world(server) -> Iterator[World]:
    """Built on first use; rebuilt when another test's cleanup emptied the database."""
    cached = _worlds.get(server.backend)
    if cached is None or not _intact(cached):
        if cached is not None:
            cached.api.close()
        cached = _worlds[server.backend] = _build(server)
    yield cached


def _intact(world: World) -> bool:
    response = world.api.get(
        f"/v2/interop/tenants/{world.ids['tenant_id']}", headers=world.callers["owner"].headers
    )
    return response.status_code == 200


def _build(server: Any) -> World:
    api = httpx.Client(base_url=server.base_url, timeout=30)
    operator = new_account(server, api, "operator", "kimono")
    state = new_account(server, api, "state", "state_education_agency")
    district = new_account(server, api, "district", "education_agency", parent=state)
    school = new_account(server, api, "school", "education_agency", parent=district)
    developer = new_account(server, api, "dev", "developer")
    other_developer = new_account(server, api, "other-dev", "developer")
    stranger = new_account(server, api, "stranger", "education_agency")
    integration = new_integration(api, developer, unique("gradebook"))
    cloud = new_cloud(api, district, unique("district"))
    tenant_actor = actor_caller(api, install(api, district, cloud["id"], integration["name"]))
    install_connector(api, district, cloud["id"], str(ONEROSTER_MINIMAL))
    planner = new_integration(api, other_developer, unique("planner"))
    other_cloud = new_cloud(api, stranger, unique("elsewhere"))
    other_actor = actor_caller(api, install(api, stranger, other_cloud["id"], planner["name"]))
    # The world is built on whatever earlier tests left (it does not wipe the database):
    # run their queued ingestions first, so that the next run is the world's own.
    run_worker(server)
    ingestion_id = queue_collection(api, tenant_actor)
    assert run_worker(server) == 1
    schedule = api.get("/v2/interop/tenant/schedules", headers=tenant_actor.headers).json()
    ids = {
        "cloud_id": cloud["id"],
        "other_cloud_id": other_cloud["id"],
        "tenant_id": tenant_actor.extra["tenant_id"],
        "actor_id": tenant_actor.extra["actor_id"],
        "integration_id": integration["id"],
        "version": "1.0",
        "schedule_id": schedule["data"][0]["id"],
        "ingestion_id": ingestion_id,
        "client_id": district.client_id,
        "account_id": str(district.account_id),
    }
    for topic, key in (
        ("orgs", "org_id"),
        ("academic_sessions", "academic_session_id"),
        ("courses", "course_id"),
        ("classes", "class_id"),
        ("users", "user_id"),
        ("enrollments", "enrollment_id"),
        ("demographics", "demographic_id"),
    ):
        rows = api.get(f"/v2/interop/data/{topic}", headers=tenant_actor.headers).json()["data"]
        ids[key] = rows[0]["sourced_id"]
    callers = {
        "operator": operator,
        "owner": district,
        "parent": state,
        "child": school,
        "developer_owner": developer,
        "other_developer": other_developer,
        "other_account": stranger,
        "same_tenant_actor": tenant_actor,
        "other_tenant_actor": other_actor,
    }
    database = Database(server.database_url)
    world = World(callers, {}, ids, api, database)
    world.tokens = _bad_tokens(server, database, district, tenant_actor)
    platform = _platform(world)
    world.ids.update(platform)
    return world


def _bad_tokens(server: Any, database: Database, account: Caller, actor: Caller) -> dict[str, str]:
    """Tokens for real principals: expired ones signed by the server's own key, and fresh
    ones naming the server's key but signed by another."""
    keys = KeyRing(database, SecretBox(load_master_secret(server.settings)))
    keys.load()
    active_kid = jwt.get_unverified_header(account.token)["kid"]
    forger = ec.generate_private_key(ec.SECP256R1())
    tokens = {}
    for who, caller, kind in (("account", account, "account"), ("actor", actor, "actor")):
        claims = jwt.decode(
            account.token if kind == "account" else actor.token, options={"verify_signature": False}
        )
        now = int(time.time())
        expired = {**claims, "iat": now - 7200, "nbf": now - 7200, "exp": now - 3600}
        tokens[f"expired_token:{who}"] = keys.sign(expired)
        tokens[f"foreign_key_token:{who}"] = jwt.encode(
            {**claims, "jti": uuid.uuid4().hex},
            forger,
            algorithm="ES256",
            headers={"kid": active_kid},
        )
        assert claims["aud"] == AUDIENCE and claims["sub"] == caller.client_id
    return tokens


def _snapshot(database: Database) -> list[Any]:
    """Every row of every table, in a stable order."""
    with database.transaction(write=False) as session:
        return [
            sorted(repr(tuple(row)) for row in session.execute(select(table)))
            for table in Base.metadata.sorted_tables
        ]


# -- the matrix -------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "principal"), CASES)
def test_authorization(world: World, method: str, path: str, principal: str) -> None:
    op = OPS[(method, path)]
    params = {**world.ids, **(op.target(world) if op.target else {})}
    url = path.format(**params)
    headers = world.headers(principal, op.kind)
    kwargs: dict[str, Any] = {}
    if op.body is not None:
        kwargs["json"] = op.body(world, principal)
    if op.content is not None:
        content, content_type = op.content(world, principal)
        kwargs["content"] = content
        headers = {**headers, "Content-Type": content_type}
    before = _snapshot(world.database) if method != "GET" else None

    response = world.api.request(method, url, headers=headers, **kwargs)

    expected = op.expected(principal)
    assert response.status_code in expected, (principal, response.status_code, response.text)
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error"} and body["error"]["status"] == response.status_code
        if before is not None:
            assert _snapshot(world.database) == before, "a refused request changed the database"
    if op.listed is not None and response.status_code == 200:
        listed = {item["id"] for item in response.json()["data"]}
        assert (world.ids[op.listed] in listed) == (principal in op.reach), principal
    if principal == "other_tenant_actor" and response.status_code == 200 and method == "GET":
        # Its own tenant's things, never ours.
        assert world.ids["tenant_id"] not in response.text


def test_the_matrix_covers_every_operation_of_the_document(server) -> None:
    document = httpx.get(f"{server.base_url}/openapi.json").json()
    listed = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    }
    covered = {(op.method, document_path(op.path)) for op in OPERATIONS}
    assert listed - PUBLIC - covered == set(), "operations missing from the matrix"
    assert covered - listed == set(), "matrix rows for operations the document lacks"
    assert len(CASES) == len(OPERATIONS) * len(PRINCIPALS)
