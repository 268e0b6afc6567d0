"""No secret in clear text: not in the database, not in the data directory, not in the logs."""

import httpx
from sqlalchemy import create_engine, text

from conftest import LOGS
from factories import install, new_account, new_cloud, new_integration


def _database_dump(server) -> bytes:
    """What an attacker holding the database would read: the SQLite file, or every PG row."""
    if server.backend == "sqlite":
        return b"".join(path.read_bytes() for path in server.data_dir.glob("interop.db*"))
    engine = create_engine(server.database_url)
    with engine.connect() as connection:
        tables = [
            row[0]
            for row in connection.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            )
        ]
        rows = [
            str(row)
            for table in tables
            for row in connection.execute(text(f'SELECT * FROM "{table}"'))
        ]
    engine.dispose()
    return "\n".join(rows).encode()


def test_no_secret_is_stored_or_logged_in_clear(server, api: httpx.Client) -> None:
    caller = new_account(server, api)
    new_integration(api, caller)
    cloud = new_cloud(api, caller)
    actor = install(api, caller, cloud["id"], "gradebook")
    rotated = api.post(
        f"/v2/interop/clouds/{cloud['id']}/actors/{actor['id']}/credentials", headers=caller.headers
    ).json()["data"]
    api.get("/v2/interop/tenants", headers=caller.headers)
    secrets = [
        caller.client_secret,
        actor["credentials"]["client_secret"],
        rotated["credentials"]["client_secret"],
        caller.token,
    ]

    dump = _database_dump(server)
    assert caller.client_id.encode() in dump  # the dump really holds the rows
    data_files = b"".join(p.read_bytes() for p in server.data_dir.rglob("*") if p.is_file())
    log_text = "\n".join(LOGS.lines)
    assert "/v2/interop/tenants" in log_text  # the access log really was captured
    for secret in secrets:
        assert secret.encode() not in dump
        assert secret.encode() not in data_files
        assert secret not in log_text
