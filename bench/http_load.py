"""HTTP load benchmark: `wrk` from a separate process over loopback against a real
`interop serve --no-worker`, on SQLite and on PostgreSQL, next to a bare Starlette app serving
the same bytes (the framework's ceiling, measured in the same run). Reports requests/s, p50 and
p99 latency per scenario and writes them into BENCHMARKS.md.

    .venv/bin/python bench/http_load.py [--backends sqlite,postgresql] [--duration 10]
        [--connections 32] [--tenants 10000] [--log-level WARNING]

Scenarios (each `wrk -t2 -c<connections> -d<duration>s --latency -s <script>`, after a 1 s
warm-up with the same script):
  a. bare Starlette, uvicorn with the server's worker count, the bytes of b's response
  f. the same bytes from a bare FastAPI app (one `async def` route, no dependency, no
     middleware) under the same uvicorn: the ceiling of anything built on FastAPI, as the
     server is, on this machine
  q. the same bare app making b's two database reads first (the server's own statements, run
     by the database's driver, sqlite3 or psycopg, on one connection per process): the
     ceiling of any server that reads what b reads for every request, on this machine
  b. GET /v2/interop/tenant/schedules with an actor's token
  c. GET /v2/interop/tenants?page_size=100, page 0 and page 99, by a developer with --tenants
  d. POST /v2/interop/tenant/scoping/schools replacing 1,000 schools (1 connection: writes
     to one tenant serialize on its lock, so more connections only queue)
  h. GET /healthz on the interop server: the app's own floor (routing and middleware, no
     authentication, no database), between a and b
  o. b under overload: 8 times --connections at once, far more than a process's 40 request slots
     and 50 database connections (it once stalled the server until pool timeouts)

Set-up goes through the public API (accounts through the operator's service, as the tests'
factories do). PostgreSQL is served by os.cpu_count() worker processes; SQLite from one process
(the CLI ignores --workers there). Any non-2xx response or socket error is reported and makes
the script exit non-zero once the report is written.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import httpx
from benchkit import (
    ROOT,
    cpu_model,
    database,
    free_port,
    python_speed,
    speed_note,
    tail,
    wait_ready,
    write_section,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url

sys.path[:0] = [str(ROOT / "tests")]
from factories import (  # noqa: E402
    Caller,
    get_token,
    install,
    new_account,
    new_cloud,
    new_integration,
    new_tenant,
)
from interop.auth.service import ACTOR_BY_CLIENT  # noqa: E402
from interop.config import Settings  # noqa: E402
from interop.schedules.service import TENANT_SCHEDULES_PAGE  # noqa: E402

BIN = Path(sys.executable).parent
API = "/v2/interop"
# Writes to one tenant's scoping serialize on the tenant's lock by design: more connections
# only queue behind each other, so d measures one writer's latency.
WRITE_CONNECTIONS = 1
OVERLOAD_FACTOR = 8
SCHOOLS = 1_000
SETUP_THREADS = 8
BARE_APP = '''"""Bare Starlette: the same bytes as the measured endpoint, nothing else (a); and
the same again after making b's two database reads, by the database's own driver (q). Bare
FastAPI (`fastapi_app`): the same bytes from one route of the framework the server is built
on (f)."""

import asyncio
import json
import sqlite3
from pathlib import Path

from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

HERE = Path(__file__)
BODY = HERE.with_suffix(".json").read_bytes()
READS = json.loads(HERE.with_suffix(".reads").read_text())
# Opened at a process's first q request: one sqlite3 connection, used on the event loop as
# the server's SQLite reads are; psycopg's asynchronous connections, taken in turn, so that a
# process serves other requests while PostgreSQL answers one.
opening = None
POSTGRES_CONNECTIONS = 8


async def connect():
    if READS["driver"] == "sqlite":
        return sqlite3.connect(READS["target"], isolation_level=None, check_same_thread=False)
    import psycopg

    idle = asyncio.Queue()
    for _ in range(POSTGRES_CONNECTIONS):
        idle.put_nowait(await psycopg.AsyncConnection.connect(READS["target"], autocommit=True))
    return idle


async def endpoint(request):
    return Response(BODY, media_type="application/json")


async def with_reads(request):
    global opening
    if opening is None:  # the first request opens them; those arriving meanwhile wait for it
        opening = asyncio.ensure_future(connect())
    connections = await opening
    (caller_sql, caller_params), (page_sql, page_params) = READS["statements"]
    values = {"client_id": READS["client_id"], "page_limit": 1001, "page_offset": 0}
    if isinstance(connections, sqlite3.Connection):
        caller = connections.execute(caller_sql, _bound(caller_params, values)).fetchone()
        values["tenant_id"] = caller[-1]
        connections.execute(page_sql, _bound(page_params, values)).fetchall()
    else:
        connection = await connections.get()
        try:
            caller = await (await connection.execute(caller_sql, values)).fetchone()
            values["tenant_id"] = caller[-1]
            await (await connection.execute(page_sql, values)).fetchall()
        finally:
            connections.put_nowait(connection)
    return Response(BODY, media_type="application/json")


def _bound(names, values):
    return [values[name] for name in names] if isinstance(names, list) else values


app = Starlette(routes=[Route("/q/{path:path}", with_reads), Route("/{path:path}", endpoint)])
fastapi_app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)


@fastapi_app.get("/{path:path}")
async def fastapi_endpoint() -> Response:
    return Response(BODY, media_type="application/json")
'''
# wrk's Lua: the request, and in done() one JSON line for Python (latencies in microseconds).
LUA = """wrk.method = "{method}"
wrk.headers["Authorization"] = "Bearer {token}"
{body}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {{"requests": %.0f, "duration_us": %.0f, "p50_us": %.0f, "p99_us": %.0f, ' ..
    '"status": %.0f, "connect": %.0f, "read": %.0f, "write": %.0f, "timeout": %.0f}}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect, e.read, e.write, e.timeout))
end
"""
LUA_BODY = """wrk.headers["Content-Type"] = "application/json"
local file = assert(io.open("{path}", "rb"))
wrk.body = file:read("*a")
file:close()"""


def main() -> None:
    parser = argparse.ArgumentParser(description="HTTP load benchmark (wrk over loopback)")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--duration", type=int, default=10, help="seconds per scenario")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--tenants", type=int, default=10_000)
    parser.add_argument(
        "--log-level",
        default="WARNING",
        help="the server's INTEROP_LOG_LEVEL; INFO (the server's default) adds an access-log line",
    )
    args = parser.parse_args()
    if args.tenants < 200:
        parser.error("--tenants must be at least 200 (two pages of 100)")
    speed = python_speed()
    results = [measure(backend, args) for backend in args.backends.split(",")]
    write_report(args, results, speed)
    failures = [f"{r['backend']}: {p}" for r in results for p in r["problems"]]
    if failures:
        print("\n!!! FAILED: " + "; ".join(failures), file=sys.stderr, flush=True)
        sys.exit(1)


def measure(backend: str, args: argparse.Namespace) -> dict:
    workers = (os.cpu_count() or 1) if backend == "postgresql" else 1
    with tempfile.TemporaryDirectory(prefix="interop-bench-http-") as tmp:
        data_dir = Path(tmp)
        url, drop = database(backend, data_dir)
        try:
            settings = Settings(data_dir=data_dir, database_url=url)
            env = {
                **os.environ,
                "INTEROP_DATABASE_URL": settings.resolved_database_url,
                "INTEROP_DATA_DIR": str(data_dir),
                "INTEROP_LOG_LEVEL": args.log_level,
            }
            if backend == "postgresql":
                migrate = [BIN / "interop", "migrate"]
                subprocess.run(migrate, env=env, check=True, capture_output=True)
            port = free_port()
            log = data_dir / "server.log"
            server = start(
                [BIN / "interop", "serve", "--no-worker", "--port", str(port)]
                + (["--workers", str(workers)] if backend == "postgresql" else []),
                env,
                log,
            )
            bares: list[subprocess.Popen] = []
            try:
                base_url = f"http://127.0.0.1:{port}"
                wait_ready(f"{base_url}/readyz", server, log)
                target = SimpleNamespace(settings=settings, database_url=url)
                with httpx.Client(base_url=base_url, timeout=60) as api:
                    actor, bulk, setup_s = set_up(target, api, args.tenants, backend)
                    body = api.get(f"{API}/tenant/schedules", headers=actor.headers)
                    check(body, "GET schedules")
                    reads = reads_of_b(settings.resolved_database_url, actor.client_id)
                    bare_urls = {}
                    for app in ("app", "fastapi_app"):
                        bare_port = free_port()
                        bares.append(
                            start_bare(data_dir, body.content, bare_port, workers, reads, app)
                        )
                        bare_urls[app] = f"http://127.0.0.1:{bare_port}"
                        wait_ready(f"{bare_urls[app]}/", bares[-1], data_dir / "bare.log")
                    scenarios = run_scenarios(api, base_url, bare_urls, actor, bulk, data_dir, args)
            finally:
                for process in (*bares, server):
                    process.terminate()
                    process.wait(timeout=30)
            problems = [
                f"{s['name']}: {s['non_2xx']:,} non-2xx, {s['socket_errors']:,} socket errors"
                for s in scenarios
                if s["non_2xx"] or s["socket_errors"]
            ]
            if problems:
                print(f"!!! {backend}: " + "; ".join(problems), file=sys.stderr, flush=True)
                print(f"--- server log (tail):\n{tail(log)}", file=sys.stderr, flush=True)
        finally:
            drop()
    result = {
        "backend": backend,
        "workers": workers,
        "setup_s": setup_s,
        "scenarios": scenarios,
        "problems": problems,
    }
    print(markdown_table(result), flush=True)
    return result


def set_up(target: object, api: httpx.Client, tenants: int, backend: str) -> tuple:
    """(the tenant's actor, the developer owning `tenants` tenants, set-up seconds)."""
    _, actor = new_tenant(target, api, integration="gradebook")
    created = api.post(f"{API}/tenant/schedules", json={"hour": 3}, headers=actor.headers)
    check(created, "POST schedules")
    bulk = new_account(target, api, name="bulk")
    new_integration(api, bulk, "roster")
    print(f"[{backend}] creating {tenants:,} tenants ({SETUP_THREADS} threads) …", flush=True)
    started = time.perf_counter()
    limits = httpx.Limits(max_connections=SETUP_THREADS)
    with (
        httpx.Client(base_url=api.base_url, timeout=120, limits=limits) as client,
        ThreadPoolExecutor(SETUP_THREADS) as pool,
    ):

        def one(n: int) -> None:
            cloud = new_cloud(client, bulk, f"district-{n}")
            install(client, bulk, cloud["id"], "roster")

        for done, _ in enumerate(pool.map(one, range(tenants)), 1):
            if done % 1000 == 0 or done == tenants:
                elapsed = time.perf_counter() - started
                print(f"[{backend}]   {done:,} tenants, {elapsed:.0f} s", flush=True)
    setup_s = time.perf_counter() - started
    # A fresh token: the one from new_account is older than the set-up.
    bulk.token = get_token(api, bulk.client_id, bulk.client_secret)
    actor.token = get_token(api, actor.client_id, actor.client_secret)
    return actor, bulk, setup_s


def run_scenarios(
    api: httpx.Client,
    base_url: str,
    bare_urls: dict[str, str],
    actor: Caller,
    bulk: Caller,
    data_dir: Path,
    args: argparse.Namespace,
) -> list[dict]:
    schools = {"data": [{"school_ref_id": f"s{n}", "name": f"School {n}"} for n in range(SCHOOLS)]}
    body_file = data_dir / "schools.json"
    body_file.write_text(json.dumps(schools))
    tenants = f"{API}/tenants?page_size=100&page="
    schools_path = f"{API}/tenant/scoping/schools"
    # Page 99 with the default 10,000 tenants; the last full page with fewer.
    last = min(99, args.tenants // 100 - 1)
    far = api.get(f"{tenants}{last}", headers=bulk.headers)
    check(far, f"GET tenants page {last}")
    if len(far.json()["data"]) != 100:
        raise RuntimeError(f"page {last} holds {len(far.json()['data'])} tenants, not 100")
    check(api.post(schools_path, json=schools, headers=actor.headers), "POST schools")
    schedules = f"{API}/tenant/schedules"
    many = args.connections * OVERLOAD_FACTOR
    writers = min(WRITE_CONNECTIONS, args.connections)
    # (key, name, server, path, caller, request body file, connections)
    bare_url = bare_urls["app"]
    plans = [
        ("a", "a. bare Starlette (b's bytes)", bare_url, schedules, actor, None, args.connections),
        (
            "f",
            "f. bare FastAPI (b's bytes)",
            bare_urls["fastapi_app"],
            schedules,
            actor,
            None,
            args.connections,
        ),
        (
            "q",
            "q. bare Starlette + b's two reads",
            bare_url,
            f"/q{schedules}",
            actor,
            None,
            args.connections,
        ),
        (
            "h",
            "h. GET /healthz (no auth, no database)",
            base_url,
            "/healthz",
            actor,
            None,
            args.connections,
        ),
        ("b", "b. GET tenant/schedules", base_url, schedules, actor, None, args.connections),
        ("page0", "c. GET tenants page 0", base_url, f"{tenants}0", bulk, None, args.connections),
        (
            "page99",
            f"c. GET tenants page {last}",
            base_url,
            f"{tenants}{last}",
            bulk,
            None,
            args.connections,
        ),
        ("d", "d. POST scoping/schools ×1,000", base_url, schools_path, actor, body_file, writers),
        ("o", "o. b under overload", base_url, schedules, actor, None, many),
    ]
    results = []
    for index, (key, name, url, path, caller, body, connections) in enumerate(plans):
        script = data_dir / f"scenario{index}.lua"
        script.write_text(
            LUA.format(
                method="POST" if body else "GET",
                token=caller.token,
                body=LUA_BODY.format(path=body) if body else "",
            )
        )
        warm = wrk(url + path, script, connections, 1)
        result = wrk(url + path, script, connections, args.duration)
        result["non_2xx"] += warm["non_2xx"]
        result["socket_errors"] += warm["socket_errors"]
        result.update(key=key, name=name, connections=connections)
        print(
            f"  {name:<36} {result['rps']:>9,.0f} req/s  p50 {result['p50_ms']:7.1f} ms  "
            f"p99 {result['p99_ms']:7.1f} ms  (-c{connections}, {result['requests']:,} requests"
            f", {result['non_2xx']} non-2xx, {result['socket_errors']} socket errors)",
            flush=True,
        )
        if result["non_2xx"] or result["socket_errors"]:
            print(f"!!! {name}: NON-2xx OR SOCKET ERRORS: {result}", file=sys.stderr, flush=True)
        results.append(result)
    return results


def wrk(url: str, script: Path, connections: int, duration: int) -> dict:
    # wrk needs at least one connection per thread.
    command = [
        "wrk",
        f"-t{min(2, connections)}",
        f"-c{connections}",
        f"-d{duration}s",
        "--timeout",
        "30s",
        "--latency",
    ]
    run = subprocess.run(
        [*command, "-s", str(script), url], capture_output=True, text=True, check=True
    )
    line = next((x for x in run.stdout.splitlines() if x.startswith("BENCH_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{run.stdout}\n{run.stderr}")
    raw = json.loads(line.removeprefix("BENCH_JSON "))
    return {
        "requests": int(raw["requests"]),
        "rps": raw["requests"] / (raw["duration_us"] / 1e6),
        "p50_ms": raw["p50_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "non_2xx": int(raw["status"]),
        "socket_errors": int(raw["connect"] + raw["read"] + raw["write"] + raw["timeout"]),
    }


def start(command: list, env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen([str(c) for c in command], env=env, stdout=out, stderr=out)


def start_bare(
    data_dir: Path, body: bytes, port: int, workers: int, reads: dict, app: str
) -> subprocess.Popen:
    """uvicorn serving `app` (BARE_APP's Starlette `app` or its `fastapi_app`) on `port`."""
    module = f"interop_bench_bare_{port}"
    (data_dir / f"{module}.py").write_text(BARE_APP)
    (data_dir / f"{module}.json").write_bytes(body)
    (data_dir / f"{module}.reads").write_text(json.dumps(reads))
    command = [BIN / "uvicorn", f"{module}:{app}", "--app-dir", data_dir, "--port", str(port)]
    command += ["--workers", str(workers), "--no-access-log", "--log-level", "warning"]
    return start(command, dict(os.environ), data_dir / "bare.log")


def reads_of_b(database_url: str, client_id: str) -> dict:
    """What the bare app's q route needs to make b's two reads as b makes them: the server's
    own statements (the caller's lookup, then the page of schedules), compiled for the
    database's DBAPI driver, and where that database is."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        driver, target, dialect = "sqlite", url.database, sqlite.dialect()
    else:
        driver, dialect = "psycopg", postgresql.dialect()
        target = url.set(drivername="postgresql").render_as_string(hide_password=False)
    statements = []
    for statement in (ACTOR_BY_CLIENT, TENANT_SCHEDULES_PAGE):
        compiled = statement.compile(dialect=dialect)
        # SQLite's driver binds by position (qmark), psycopg by name (pyformat).
        names = list(compiled.positiontup) if compiled.positional else None
        statements.append((str(compiled), names))
    return {"driver": driver, "target": target, "statements": statements, "client_id": client_id}


def check(response: httpx.Response, what: str) -> None:
    if not 200 <= response.status_code < 300:
        raise RuntimeError(f"{what}: {response.status_code} {response.text[:500]}")


def summary(result: dict) -> dict:
    by_key = {s["key"]: s for s in result["scenarios"]}
    a, b, d = by_key["a"], by_key["b"], by_key["d"]
    page0, page99 = by_key["page0"], by_key["page99"]
    share = b["rps"] / a["rps"]
    floor = by_key["h"]["rps"] / a["rps"]
    framework = by_key["f"]["rps"] / a["rps"]
    ceiling = by_key["q"]["rps"] / a["rps"]
    p50_ratio = page99["p50_ms"] / page0["p50_ms"]
    rps_ratio = page0["rps"] / page99["rps"]
    return {
        "share": share,
        "floor": floor,
        "framework": framework,
        "of_framework": b["rps"] / by_key["f"]["rps"],
        "ceiling": ceiling,
        "of_ceiling": b["rps"] / by_key["q"]["rps"],
        "b_ok": share >= 0.5 and b["p99_ms"] < 20,
        "b_p99": b["p99_ms"],
        "p50_ratio": p50_ratio,
        "rps_ratio": rps_ratio,
        "page_ok": p50_ratio <= 1.5 and rps_ratio <= 1.5,
        "d_p50": d["p50_ms"],
        "d_ok": d["p50_ms"] < 150,
        "o_connections": by_key["o"]["connections"],
        "o_share": by_key["o"]["rps"] / b["rps"],
        "o_failed": by_key["o"]["non_2xx"] + by_key["o"]["socket_errors"],
    }


def markdown_table(result: dict) -> str:
    lines = [
        f"### {result['backend']} ({result['workers']} server process"
        + ("es" if result["workers"] > 1 else "")
        + ")",
        "",
        "| scenario | connections | requests/s | p50 ms | p99 ms | non-2xx |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for s in result["scenarios"]:
        lines.append(
            f"| {s['name']} | {s['connections']} | {s['rps']:,.0f} | {s['p50_ms']:.1f} | "
            f"{s['p99_ms']:.1f} | {s['non_2xx'] + s['socket_errors']} |"
        )
    sums = summary(result)

    def verdict(ok: bool) -> str:
        return "met" if ok else "**not met**"

    lines += [
        "",
        f"- b / a: {sums['share']:.0%} of the bare app's requests/s, b p99 {sums['b_p99']:.1f} ms "
        f"(target ≥ 50 % and p99 < 20 ms: {verdict(sums['b_ok'])}); /healthz alone reaches "
        f"{sums['floor']:.0%} of a",
        f"- f / a: {sums['framework']:.0%}: a bare FastAPI route returning the same bytes, "
        f"nothing else; b reaches {sums['of_framework']:.0%} of f",
        f"- q / a: {sums['ceiling']:.0%}: the bare app making b's two reads, nothing else; b "
        f"reaches {sums['of_ceiling']:.0%} of q",
        f"- far page / page 0: {sums['p50_ratio']:.2f}× the p50 latency, "
        f"{sums['rps_ratio']:.2f}× the cost in requests/s "
        f"(target ≤ 1.5×: {verdict(sums['page_ok'])})",
        f"- d p50 {sums['d_p50']:.1f} ms (target < 150 ms: {verdict(sums['d_ok'])})",
        f"- o: {sums['o_connections']} connections at once get {sums['o_share']:.0%} of b's "
        f"requests/s, {sums['o_failed']:,} failed",
        f"- set-up of the tenants through the API: {result['setup_s']:.0f} s",
    ]
    if result["problems"]:
        lines.append(f"- **FAILED: {'; '.join(result['problems'])}**")
    return "\n".join(lines)


def write_report(args: argparse.Namespace, results: list[dict], speed: float) -> None:
    log_note = (
        " (no access-log line per request; `--log-level INFO`, the server's default, adds it)"
        if args.log_level.upper() == "WARNING"
        else ""
    )
    lines = [
        f"## HTTP (`bench/http_load.py --duration {args.duration} --connections {args.connections} "
        f"--tenants {args.tenants}"
        + (f" --log-level {args.log_level}" if args.log_level.upper() != "WARNING" else "")
        + "`)",
        "",
        f"Machine: {platform.platform()}, {cpu_model()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}. "
        f"`wrk -t2 -c{args.connections} -d{args.duration}s` over loopback on the same machine "
        f"(d: -c{min(WRITE_CONNECTIONS, args.connections)}), after a 1 s warm-up; "
        f"`interop serve --no-worker` with `INTEROP_LOG_LEVEL={args.log_level}`{log_note}. "
        "PostgreSQL is served by os.cpu_count() processes, "
        "SQLite by one (the CLI ignores --workers on SQLite); the bare Starlette app (a) and "
        "the bare FastAPI app (f) run under uvicorn with the same number of processes and "
        "return b's response bytes. " + speed_note(speed),
        "",
    ]
    for result in results:
        lines += [markdown_table(result), ""]
    lines += [
        "Targets: b ≥ 50 % of a's requests/s with p99 < 20 ms; page 99 ≤ 1.5× page 0; "
        "d p50 < 150 ms.",
    ]
    write_section(__file__, lines)


if __name__ == "__main__":
    main()
