"""Lists order their text keys bytewise (code point order) on every backend: roster records
by sourcedId, rollovers by `sort=name`. A PostgreSQL database created with a linguistic
collation (en-US) ordered them as that locale does, where SQLite compares bytes; the keys'
columns are declared collation "C", so a page stays an index scan."""

import os
import random
import re
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.dialects import postgresql

from conftest import (
    Server,
    _libpq_url,
    _scratch_database,
    postgres_admin_url,
    serving,
    wipe,
)
from factories import Caller, listed, new_tenant, store_records
from interop.migrations_runner import upgrade
from interop.roster.repository import tenant_records

# Where code point order and en-US differ: en-US has a_b a-b a1 A1 ab aB Z.
IDS = ["a-b", "aB", "ab", "a_b", "A1", "a1", "Z"]
BYTEWISE = ["A1", "Z", "a-b", "a1", "aB", "a_b", "ab"]
# How to create a database whose default collation is en-US, by the collation it needs:
# ICU's (PostgreSQL 15 and later), else the C library's.
EN_US = {
    "en-US-x-icu": "LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C'",
    "en_US.utf8": "LC_COLLATE 'en_US.UTF-8' LC_CTYPE 'en_US.UTF-8'",
}
EN_US_BACKEND = "postgresql en-US"
BACKENDS = ("sqlite", "postgresql", EN_US_BACKEND)


def en_us_database() -> AbstractContextManager[str]:
    """An empty database on the test PostgreSQL whose default collation is en-US, dropped
    after (the test is skipped when the server has no such collation, and fails under
    CI=true, whose server has one, as for an unreachable PostgreSQL)."""
    with psycopg.connect(_libpq_url(postgres_admin_url())) as connection:
        installed = {row[0] for row in connection.execute("SELECT collname FROM pg_collation")}
        icu_default = connection.info.server_version >= 150000
    usable = [name for name in EN_US if name in installed and (icu_default or "icu" not in name)]
    if not usable:
        problem = "the test PostgreSQL has no en-US collation (neither ICU nor libc)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{problem}; CI's has one")
        pytest.skip(problem)
    options = f"TEMPLATE template0 ENCODING 'UTF8' {EN_US[usable[0]]}"
    return _scratch_database("interop_en_us", options)


@pytest.fixture(scope="module", params=BACKENDS)
def ordering_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    backend: str = request.param
    data_dir: Path = tmp_path_factory.mktemp(f"order-{backend.replace(' ', '-')}")
    # A database of its own: the session's is encrypted with another server's secret.
    with ExitStack() as stack:  # the server stops before its database goes
        if backend == "sqlite":
            url = f"sqlite:///{data_dir / 'interop.db'}"
        else:
            request.getfixturevalue("postgres_database")  # skipped if unreachable
            database = (
                en_us_database() if backend == EN_US_BACKEND else _scratch_database("interop_order")
            )
            url = stack.enter_context(database)
        yield stack.enter_context(serving(backend.split()[0], url, data_dir))


@pytest.fixture
def served(ordering_server: Server) -> Iterator[tuple[Server, httpx.Client]]:
    wipe(ordering_server)
    with httpx.Client(base_url=ordering_server.base_url, timeout=30) as client:
        yield ordering_server, client


def test_roster_records_are_paged_in_code_point_order_of_sourced_id(served):
    server, api = served
    _, actor = new_tenant(server, api)
    store_records(server, actor, "users", {sourced_id: {} for sourced_id in IDS})

    items = listed(api, actor, "/v2/interop/data/users", page_size=3)

    assert [item["sourced_id"] for item in items] == BYTEWISE


def test_changes_at_one_time_are_listed_in_code_point_order_of_sourced_id(served):
    server, api = served
    _, actor = new_tenant(server, api)
    store_records(server, actor, "orgs", {sourced_id: {} for sourced_id in IDS})

    items = listed(
        api, actor, "/v2/interop/data/orgs", page_size=2, changed_since="2000-01-01T00:00:00Z"
    )

    assert [item["sourced_id"] for item in items] == BYTEWISE


def test_rollovers_sorted_by_name_are_in_code_point_order(served):
    server, api = served
    _, actor = new_tenant(server, api)
    for day, name in enumerate(IDS, start=1):
        response = api.post(
            "/v2/interop/tenant/rollovers",
            json={
                "name": name,
                "type": "suspend_collection",
                "status": "scheduled",
                "start_date": f"2031-01-{day:02}T00:00:00Z",
                "end_date": f"2031-01-{day:02}T12:00:00Z",
                "cloud_id": actor.extra["cloud_id"],
            },
            headers=actor.headers,
        )
        assert response.status_code == 200, response.text

    ascending = listed(api, actor, "/v2/interop/tenant/rollovers", sort="name")
    descending = listed(api, actor, "/v2/interop/tenant/rollovers", sort="-name")

    assert [item["name"] for item in ascending] == BYTEWISE
    assert [item["name"] for item in descending] == BYTEWISE[::-1]


def plan(server: Server, statement: Any) -> str:
    """PostgreSQL's plan of a statement, as it ran (EXPLAIN ANALYZE)."""
    sql = statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    engine = create_engine(server.database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text(f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) {sql}"))
            return "\n".join(rows.scalars())
    finally:
        engine.dispose()


def insert_users(connection: Connection, tenant: uuid.UUID, sourced_ids: list[str]) -> None:
    """Users of the tenant with these ids, written straight into the table."""
    connection.execute(
        text(
            "INSERT INTO roster_users (tenant_id, sourced_id, status, fields, digest, created_at,"
            " updated_at) SELECT :tenant, unnest(CAST(:ids AS text[])), 'active', '{}', '',"
            " now(), now()"
        ),
        {"tenant": tenant, "ids": sourced_ids},
    )


def many_users(server: Server, tenant: uuid.UUID) -> list[str]:
    """200,000 users of the tenant, written in no order; their ids in code point order."""
    ids = [f"{IDS[i % 7]}{i:x}" for i in range(200_000)]
    engine = create_engine(server.database_url)
    try:
        with engine.begin() as connection:
            insert_users(connection, tenant, random.sample(ids, len(ids)))
            connection.execute(text("ANALYZE roster_users"))
    finally:
        engine.dispose()
    return sorted(ids)


def users_page(api: httpx.Client, actor: Caller, **params: Any) -> list[str]:
    """The sourcedIds of one page of the actor's users."""
    response = api.get("/v2/interop/data/users", params=params, headers=actor.headers)
    assert response.status_code == 200, response.text
    return [item["sourced_id"] for item in response.json()["data"]]


@pytest.mark.parametrize("ordering_server", [EN_US_BACKEND], indirect=True)
def test_a_page_of_200000_records_is_an_index_scan_in_code_point_order(served):
    server, api = served
    _, actor = new_tenant(server, api)
    tenant = uuid.UUID(actor.extra["tenant_id"])
    ids = many_users(server, tenant)
    page_size = 1000

    for page in (0, 199):  # the first page and the last, as the API reads them
        statement = tenant_records("users", tenant, None)
        found = plan(server, statement.limit(page_size + 1).offset(page * page_size))
        assert "Index Scan using pk_roster_users" in found, found
        assert "Sort" not in found, found
        served_ids = users_page(api, actor, page=page, page_size=page_size)
        assert served_ids == ids[page * page_size : (page + 1) * page_size]


@pytest.mark.parametrize("ordering_server", ["postgresql"], indirect=True)
def test_a_far_keyset_page_of_200000_records_reads_only_its_rows_from_the_index(served):
    server, api = served
    _, actor = new_tenant(server, api)
    tenant = uuid.UUID(actor.extra["tenant_id"])
    ids = many_users(server, tenant)
    page_size, start = 1000, 190_000
    after = ids[start - 1]

    statement = tenant_records("users", tenant, None, after).limit(page_size + 1)
    found = plan(server, statement)
    assert "Index Scan using pk_roster_users" in found, found
    assert "Sort" not in found and "Seq Scan" not in found, found
    # The index range starts at `after`: no row before it is read and thrown away.
    scanned = re.search(r"Index Scan using pk_roster_users .*actual rows=(\d+)", found)
    assert scanned is not None and int(scanned[1]) == page_size + 1, found
    served_ids = users_page(api, actor, after=after, page_size=page_size)
    assert served_ids == ids[start : start + page_size]


def test_the_upgrade_orders_the_records_a_database_holds_in_code_point_order(
    postgres_database: str,
):
    tenant = uuid.uuid4()
    with en_us_database() as url:
        upgrade(url, "0008")  # a database as the previous release left it
        engine = create_engine(url)
        try:
            with engine.begin() as connection:
                # Rows of a tenant the test does not make: foreign keys are not checked.
                connection.execute(text("SET LOCAL session_replication_role = replica"))
                insert_users(connection, tenant, IDS)
            upgrade(url)
            with engine.connect() as connection:
                ordered = connection.execute(
                    text("SELECT sourced_id FROM roster_users ORDER BY tenant_id, sourced_id")
                )
                assert list(ordered.scalars()) == BYTEWISE
        finally:
            engine.dispose()
