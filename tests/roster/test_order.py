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
from datetime import UTC, datetime, timedelta
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
from factories import Caller, json_time, listed, new_tenant, store_records
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
    """PostgreSQL's plan of a statement, as it ran (EXPLAIN ANALYZE, with the buffers read)."""
    sql = statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    engine = create_engine(server.database_url)
    try:
        with engine.connect() as connection:
            options = "ANALYZE, BUFFERS, COSTS OFF, TIMING OFF"
            rows = connection.execute(text(f"EXPLAIN ({options}) {sql}"))
            return "\n".join(rows.scalars())
    finally:
        engine.dispose()


def insert_users(
    connection: Connection,
    tenant: uuid.UUID,
    sourced_ids: list[str],
    changed: list[datetime] | None = None,
    statuses: list[str] | None = None,
) -> None:
    """Users of the tenant with these ids, written straight into the table, changed at
    `changed` (each now) with `statuses` (each active)."""
    connection.execute(
        text(
            "INSERT INTO roster_users (tenant_id, sourced_id, status, fields, digest, created_at,"
            " updated_at) SELECT :tenant, id, status, '{}', '', changed, changed FROM"
            " unnest(CAST(:ids AS text[]), CAST(:statuses AS text[]),"
            " CAST(:changed AS timestamptz[])) AS user_row(id, status, changed)"
        ),
        {
            "tenant": tenant,
            "ids": sourced_ids,
            "statuses": statuses or ["active"] * len(sourced_ids),
            "changed": changed or [datetime.now(UTC)] * len(sourced_ids),
        },
    )


def many_users(server: Server, tenant: uuid.UUID) -> list[str]:
    """200,000 users of the tenant, written in no order; their ids in code point order."""
    ids = [f"{IDS[i % 7]}{i:x}" for i in range(200_000)]
    write_users(server, tenant, random.sample(ids, len(ids)))
    return sorted(ids)


def write_users(server: Server, tenant: uuid.UUID, sourced_ids: list[str], **columns: Any) -> None:
    """`insert_users`, then the statistics the planner reads."""
    engine = create_engine(server.database_url)
    try:
        with engine.begin() as connection:
            insert_users(connection, tenant, sourced_ids, **columns)
            connection.execute(text("ANALYZE roster_users"))
    finally:
        engine.dispose()


def many_changes(server: Server, tenant: uuid.UUID) -> list[tuple[datetime, str]]:
    """200,000 users of the tenant changed at 50,000 times, four at each, one in ten deleted,
    written in no order; (updated_at, sourcedId) of each in the order changed_since lists
    them."""
    start = datetime(2026, 1, 31, 8, tzinfo=UTC)
    listing = sorted(
        (start + timedelta(milliseconds=i // 4), f"{IDS[i % 7]}{i:x}") for i in range(200_000)
    )
    shuffled = random.sample(listing, len(listing))
    statuses = ["tobedeleted" if i % 10 == 0 else "active" for i in range(len(shuffled))]
    changed = [updated_at for updated_at, _ in shuffled]
    write_users(server, tenant, [i for _, i in shuffled], changed=changed, statuses=statuses)
    return listing


def new_actor(server: Server, api: httpx.Client) -> tuple[Caller, uuid.UUID]:
    """A new tenant's actor, and the tenant's id."""
    _, actor = new_tenant(server, api)
    return actor, uuid.UUID(actor.extra["tenant_id"])


def users_page(api: httpx.Client, actor: Caller, **params: Any) -> list[str]:
    """The sourcedIds of one page of the actor's users."""
    response = api.get("/v2/interop/data/users", params=params, headers=actor.headers)
    assert response.status_code == 200, response.text
    return [item["sourced_id"] for item in response.json()["data"]]


@pytest.mark.parametrize("ordering_server", [EN_US_BACKEND], indirect=True)
def test_a_page_of_200000_records_is_an_index_scan_in_code_point_order(served):
    server, api = served
    actor, tenant = new_actor(server, api)
    ids = many_users(server, tenant)
    page_size = 1000

    for page in (0, 199):  # the first page and the last, as the API reads them
        statement = tenant_records("users", tenant, None)
        found = plan(server, statement.limit(page_size + 1).offset(page * page_size))
        assert "Index Scan using pk_roster_users" in found, found
        assert "Sort" not in found, found
        served_ids = users_page(api, actor, page=page, page_size=page_size)
        assert served_ids == ids[page * page_size : (page + 1) * page_size]


# The far pages read by key: 1,000 rows from the 190,001st of 200,000.
PAGE_SIZE, FAR = 1000, 190_000


def assert_only_a_range_of(index: str, found: str, rows: int) -> None:
    """The plan `found` reads `rows` rows from an index scan of `index`, and nothing else."""
    assert f"Index Scan using {index}" in found, found
    assert "Sort" not in found and "Seq Scan" not in found, found
    scanned = re.search(rf"Index Scan using {index} .*actual rows=(\d+)", found)
    assert scanned is not None and int(scanned[1]) == rows, found


@pytest.mark.parametrize("ordering_server", ["postgresql"], indirect=True)
def test_a_far_keyset_page_of_200000_records_reads_only_its_rows_from_the_index(served):
    server, api = served
    actor, tenant = new_actor(server, api)
    ids = many_users(server, tenant)
    after = ids[FAR - 1]

    found = plan(server, tenant_records("users", tenant, None, after).limit(PAGE_SIZE + 1))
    # The index range starts at `after`: no row before it is read and thrown away.
    assert_only_a_range_of("pk_roster_users", found, PAGE_SIZE + 1)
    served_ids = users_page(api, actor, after=after, page_size=PAGE_SIZE)
    assert served_ids == ids[FAR : FAR + PAGE_SIZE]


@pytest.mark.parametrize("ordering_server", ["postgresql"], indirect=True)
def test_a_far_changed_since_page_of_200000_changes_reads_only_its_rows_from_the_index(served):
    server, api = served
    actor, tenant = new_actor(server, api)
    since = datetime(2000, 1, 1, tzinfo=UTC)
    listing = many_changes(server, tenant)
    updated_at, sourced_id = listing[FAR - 1]
    after = f"{updated_at:%Y-%m-%dT%H:%M:%S.%f}Z,{sourced_id}"

    found = plan(server, tenant_records("users", tenant, since, after).limit(PAGE_SIZE + 1))
    assert_only_a_range_of("ix_roster_users_tenant_changes", found, PAGE_SIZE + 1)
    # The range starts at the cursor: at most a heap page a row and the index's few, where
    # the numbered page 190 (OFFSET 190,000) read 192,410 buffers.
    buffers = re.search(r"Buffers: shared (.*)", found)  # the first: the whole statement's
    assert buffers is not None, found
    read = sum(int(count) for count in re.findall(r"(?:hit|read)=(\d+)", buffers[1]))
    assert read < 1.1 * PAGE_SIZE, found
    served_ids = users_page(
        api, actor, changed_since=json_time(since), after=after, page_size=PAGE_SIZE
    )
    assert served_ids == [sourced_id for _, sourced_id in listing[FAR : FAR + PAGE_SIZE]]


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
