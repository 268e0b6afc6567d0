"""Set-up through the public API (and the operator's CLI service for accounts), spelled out."""

import contextlib
import http.server
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert

from interop.accounts.service import create_account
from interop.auth.secrets import SecretBox, load_master_secret
from interop.config import Settings
from interop.db import Database
from interop.engine.worker import Worker
from interop.engine.writes import tombstone
from interop.roster.models import topic_table
from local_http import serving_http


@dataclass
class Caller:
    """Someone holding credentials, with a ready Authorization header."""

    client_id: str
    client_secret: str
    token: str
    account_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@cache
def _database(url: str) -> Database:
    return Database(url)


def stored(server: Any, model: type, row_id: str, column: str) -> Any:
    """One column of a row as the database holds it, read past the API."""
    with _database(server.database_url).transaction(write=False) as session:
        return getattr(session.get_one(model, uuid.UUID(row_id)), column)


def new_account(
    server: Any,
    api: httpx.Client,
    name: str = "acme",
    type: str = "developer",
    parent: Caller | None = None,
) -> Caller:
    """An account and its first key, as `interop accounts create` makes them."""
    settings: Settings = server.settings
    box = SecretBox(load_master_secret(settings))
    parent_id = uuid.UUID(parent.account_id) if parent and parent.account_id else None
    with _database(server.database_url).transaction() as session:
        account, key = create_account(session, box, name, type, parent_id)
        account_id = str(account.id)
    token = get_token(api, key.client_id, key.client_secret)
    return Caller(key.client_id, key.client_secret, token, account_id)


def get_token(api: httpx.Client, client_id: str, client_secret: str) -> str:
    response = api.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, client_secret)
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def new_cloud(
    api: httpx.Client, caller: Caller, name: str = "district", **body: Any
) -> dict[str, Any]:
    response = api.post("/v2/interop/clouds", json={"name": name, **body}, headers=caller.headers)
    assert response.status_code == 200, response.text
    return dict(response.json()["data"])


def blueprint_xml(
    version: str = "1.0", title: str = "Gradebook", auth_type: str | None = None
) -> str:
    application = (
        f'<Application><Authentication Type="{auth_type}"/></Application>'
        if auth_type
        else "<Application/>"
    )
    return (
        f"<IntegrationBlueprint Name='gradebook' Version='{version}' SchemaVersion='2.0.0'>"
        f"<Integration><Title>{title}</Title></Integration>{application}"
        "</IntegrationBlueprint>"
    )


def new_integration(
    api: httpx.Client,
    caller: Caller,
    name: str = "gradebook",
    versions: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An integration with versions {version: release_state} (default: 1.0 released)."""
    response = api.post("/v2/interop/integrations", json={"name": name}, headers=caller.headers)
    assert response.status_code == 200, response.text
    integration = dict(response.json()["data"])
    for version, state in (versions if versions is not None else {"1.0": "released"}).items():
        add_version(api, caller, integration["id"], version, state)
    return integration


def add_version(
    api: httpx.Client,
    caller: Caller,
    integration_id: str,
    version: str = "1.0",
    release_state: str = "released",
) -> dict[str, Any]:
    response = api.post(
        f"/v2/interop/integrations/{integration_id}/versions",
        content=blueprint_xml(version),
        headers={**caller.headers, "Content-Type": "application/xml"},
    )
    assert response.status_code == 200, response.text
    if release_state != "development":
        patched = api.patch(
            f"/v2/interop/integrations/{integration_id}/versions/{version}",
            json={"release_state": release_state},
            headers=caller.headers,
        )
        assert patched.status_code == 204, patched.text
    return dict(response.json()["data"])


def install(
    api: httpx.Client,
    caller: Caller,
    cloud_id: str,
    integration: str,
    version: str | None = None,
) -> dict[str, Any]:
    ref: dict[str, Any] = {"name": integration}
    if version:
        ref["version"] = version
    response = api.post(
        f"/v2/interop/clouds/{cloud_id}/actors",
        json={"type": "integration", "integration": ref},
        headers=caller.headers,
    )
    assert response.status_code == 200, response.text
    return dict(response.json()["data"])


def actor_caller(api: httpx.Client, actor: dict[str, Any]) -> Caller:
    credentials = actor["credentials"]
    token = get_token(api, credentials["client_id"], credentials["client_secret"])
    return Caller(
        credentials["client_id"],
        credentials["client_secret"],
        token,
        extra={
            "tenant_id": actor["tenant_id"],
            "actor_id": actor["id"],
            "cloud_id": actor["cloud_id"],
        },
    )


def new_tenant(
    server: Any, api: httpx.Client, integration: str = "gradebook", owner: Caller | None = None
) -> tuple[Caller, Caller]:
    """(the owning account, the tenant's actor): an integration installed in a new cloud."""
    if owner is None:
        owner = new_account(server, api)
        new_integration(api, owner, integration)
    cloud = new_cloud(api, owner, f"cloud-{uuid.uuid4().hex[:8]}")
    return owner, actor_caller(api, install(api, owner, cloud["id"], integration))


DATA = Path(__file__).parent / "data"
ONEROSTER_MINIMAL = DATA / "oneroster-1.1" / "minimal"
ONEROSTER_RECOMMENDED = DATA / "oneroster-1.1" / "recommended"
# Where the tests' bundles lie: their data and pytest's temporary directories.
SOURCE_ROOTS = [DATA, Path(tempfile.gettempdir())]
BENCH = Path(__file__).parents[1] / "bench"


def generated_bundle(tmp_path: Path, students: int, seed: int = 7) -> Path:
    """A synthetic district of `students` from the benchmarks' generator, in `tmp_path`."""
    sys.path.insert(0, str(BENCH))
    try:
        from generate_oneroster import generate
    finally:
        sys.path.remove(str(BENCH))
    target = tmp_path / f"generated-{students}"
    generate(target, students=students, seed=seed)
    return target


def install_connector(api: httpx.Client, owner: Caller, cloud_id: str, location: str) -> dict:
    """A OneRoster CSV connector in the cloud, reading from `location`."""
    response = api.post(
        f"/v2/interop/clouds/{cloud_id}/actors",
        json={
            "type": "connector",
            "name": "SIS export",
            "source": {"kind": "oneroster_csv", "location": location},
        },
        headers=owner.headers,
    )
    assert response.status_code == 200, response.text
    return dict(response.json()["data"])


def store_records(
    server: Any, actor: Caller, topic: str, records: dict[str, dict[str, Any]]
) -> None:
    """Write records (fields by sourcedId) straight into the topic's table of the actor's
    tenant, as the engine stores them, all changed at one time."""
    now = datetime.now(UTC)
    with _database(server.database_url).transaction() as session:
        session.execute(
            insert(topic_table(topic)),
            [
                {
                    "tenant_id": uuid.UUID(actor.extra["tenant_id"]),
                    "sourced_id": sourced_id,
                    "status": "active",
                    "date_last_modified": None,
                    "fields": fields,
                    "digest": "0" * 32,
                    "created_at": now,
                    "updated_at": now,
                }
                for sourced_id, fields in records.items()
            ],
        )


def delete_records(server: Any, actor: Caller, topic: str, sourced_ids: list[str]) -> None:
    """Delete records of the actor's tenant as a collection does (the engine's tombstone:
    `tobedeleted`), all changed at one time."""
    with _database(server.database_url).transaction() as session:
        tenant_id = uuid.UUID(actor.extra["tenant_id"])
        tombstone(session, topic_table(topic), tenant_id, sourced_ids, datetime.now(UTC))


def new_collecting_tenant(
    server: Any, api: httpx.Client, location: Path | str
) -> tuple[Caller, Caller]:
    """(owner, actor) of a tenant whose cloud has a connector reading `location`."""
    owner, actor = new_tenant(server, api, integration=f"roster-{uuid.uuid4().hex[:8]}")
    install_connector(api, owner, actor.extra["cloud_id"], str(location))
    return owner, actor


def queue_collection(api: httpx.Client, actor: Caller, hour: int = 3) -> str:
    """Queue an on-demand collection through the tenant's schedule; the ingestion's id."""
    schedules = api.get("/v2/interop/tenant/schedules", headers=actor.headers).json()["data"]
    if schedules:
        schedule_id = schedules[0]["id"]
    else:
        created = api.post(
            "/v2/interop/tenant/schedules", json={"hour": hour}, headers=actor.headers
        )
        assert created.status_code == 200, created.text
        schedule_id = created.json()["data"]["id"]
    run = api.post(f"/v2/interop/tenant/schedules/{schedule_id}/run", headers=actor.headers)
    assert run.status_code == 204, run.text
    state = api.get("/v2/interop/tenant/state", headers=actor.headers).json()["data"]
    return str(state["pending_ingestion_id"])


@contextlib.contextmanager
def source_that(action: Callable[[], None]) -> Iterator[str]:
    """The location of a real HTTP source that runs `action` when a worker asks for the
    bundle, then answers 404: the run ends failed (source_unavailable), to be recorded."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            action()
            self.send_error(404)

        def log_message(self, *args: object) -> None:
            pass

    with serving_http(Handler) as base:
        yield f"{base}/export.zip"


def engine_settings(server: Any, **overrides: Any) -> Settings:
    """Settings for an engine working on the test server's database."""
    values: dict[str, Any] = {
        "data_dir": server.data_dir,
        "database_url": server.database_url,
        "source_roots": SOURCE_ROOTS,
        "source_allow_private_networks": True,
        "engine_enabled": False,
    }
    values.update(overrides)
    return Settings(**values)


def run_worker(server: Any, **overrides: Any) -> int:
    """Run queued ingestions to their end in this process; how many ran."""
    settings = engine_settings(server, **overrides)
    database = Database(settings.resolved_database_url)
    try:
        worker = Worker(database, settings, name="test-worker")
        ran = 0
        while worker.run_once():
            ran += 1
        return ran
    finally:
        database.dispose()


def collect(
    server: Any, api: httpx.Client, actor: Caller, state: str | None = "success"
) -> dict[str, Any]:
    """Queue a collection for the actor's tenant, run it in this process, and return the
    ingestion as the API shows it (checked to have ended in `state`, unless None)."""
    ingestion_id = queue_collection(api, actor)
    assert run_worker(server) == 1
    result = ingestion(api, actor, ingestion_id)
    if state is not None:
        assert result["state"] == state, result
    return result


def ingestion(api: httpx.Client, caller: Caller, ingestion_id: str) -> dict[str, Any]:
    response = api.get(f"/v2/interop/ingestions/{ingestion_id}", headers=caller.headers)
    assert response.status_code == 200, response.text
    return dict(response.json()["data"])


def json_time(value: datetime) -> str:
    """A stored time as the API writes it in JSON (UTC, with a `Z`)."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def listed(api: httpx.Client, actor: Caller, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a list, following its `next` links."""
    return [item for body in pages(api, actor, path, **params) for item in body["data"]]


def pages(api: httpx.Client, actor: Caller, path: str, **params: Any) -> list[dict[str, Any]]:
    """The body of each page of a list, following its `next` links; `path` may be one of them
    (httpx replaces a URL's query with `params`, even empty ones)."""
    bodies: list[dict[str, Any]] = []
    response = api.get(path, params=params or None, headers=actor.headers)
    while True:
        assert response.status_code == 200, response.text
        bodies.append(response.json())
        following = bodies[-1]["paging"]["next"]
        if following is None:
            return bodies
        response = api.get(following, headers=actor.headers)  # it repeats the filters
