"""Workers die, stall and race; the ingestion still ends once, and the repository ends exactly
as a clean run leaves it."""

import contextlib
import itertools
import json
import logging
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from conftest import TcpProxy, serving, serving_without_engine
from factories import (
    DATA,
    ONEROSTER_MINIMAL,
    Caller,
    engine_settings,
    generated_bundle,
    ingestion,
    new_collecting_tenant,
    queue_collection,
    run_worker,
    source_that,
    stored,
)
from interop.config import Settings
from interop.db import Database, utcnow
from interop.engine import writes
from interop.engine.collection import Collection
from interop.engine.worker import Worker
from interop.ingestions.models import Ingestion
from interop.roster.models import TOPIC_TABLES

# The end of a worker's log line when it leaves a running ingestion to a stale takeover.
TAKEN_OVER = "it is taken over once its heartbeat is stale"


def test_a_rerun_of_an_ingestion_that_wrote_part_of_another_export_is_not_skipped(
    server, api, tmp_path
):
    # The export changed, a run wrote part of it and was handed back, and the export changed
    # back before the rerun: the rerun read the source of the tenant's last success and
    # skipped as unchanged (with that run's stats), leaving what the first attempt wrote.
    bundle = tmp_path / "bundle"
    shutil.copytree(ONEROSTER_MINIMAL, bundle)
    _, actor = new_collecting_tenant(server, api, bundle)
    queue_collection(api, actor)
    run_worker(server)
    orgs = bundle / "orgs.csv"
    exported = orgs.read_text()
    orgs.write_text(exported.replace("The School", "Renamed School"))
    ingestion_id = queue_collection(api, actor)
    hand_back_after(server, 2)  # the district, then sch1 renamed
    renamed = api.get("/v2/interop/data/orgs/sch1", headers=actor.headers).json()["data"]
    assert renamed["name"] == "Renamed School"
    orgs.write_text(exported)
    assert run_worker(server) == 1
    rerun = ingestion(api, actor, ingestion_id)
    assert rerun["state"] == "success", rerun
    assert rerun["stats"]["updated"] == 2  # renamed by the first attempt, back by the rerun
    restored = api.get("/v2/interop/data/orgs/sch1", headers=actor.headers).json()["data"]
    assert restored["name"] == "The School"


def repository(server, tenant_id: str) -> dict[str, set[tuple[str, str, str]]]:
    database = Database(server.database_url)
    with database.transaction(write=False) as session:
        result = {
            topic: {
                (row.sourced_id, row.status, row.digest)
                for row in session.execute(
                    select(table.sourced_id, table.status, table.digest).where(
                        table.tenant_id == uuid.UUID(tenant_id)
                    )
                )
            }
            for topic, table in TOPIC_TABLES.items()
        }
    database.dispose()
    return result


def shift(server, ingestion_id: str, **ages: timedelta) -> None:
    """Move the ingestion's timestamps into the past (a stalled worker, a long run)."""
    database = Database(server.database_url)
    with database.transaction() as session:
        row = session.get(Ingestion, uuid.UUID(ingestion_id))
        for column, age in ages.items():
            setattr(row, column, utcnow() - age)
    database.dispose()


@contextlib.contextmanager
def stalled_worker(server, ingestion_id: str, **overrides: Any) -> Iterator[Callable[[], None]]:
    """A worker that claimed the ingestion, then stalled (its heartbeat is 5 minutes old):
    calling what this yields wakes it to run the ingestion on."""
    settings = engine_settings(server, **overrides)
    database = Database(settings.resolved_database_url)
    try:
        stalled = Worker(database, settings, name="stalled")
        claim = stalled.claim()
        assert claim is not None
        shift(server, ingestion_id, heartbeat_at=timedelta(minutes=5))
        yield lambda: stalled.run(claim.lease)
    finally:
        database.dispose()


def test_a_worker_that_lost_its_lease_cannot_write(server, api):
    _, actor = new_collecting_tenant(server, api, ONEROSTER_MINIMAL)
    ingestion_id = queue_collection(api, actor)
    with stalled_worker(server, ingestion_id, worker_stale_seconds=30) as wake:
        assert run_worker(server, worker_stale_seconds=30) == 1  # the takeover completes it
        taken_over = ingestion(api, actor, ingestion_id)
        assert taken_over["state"] == "success"
        wake()  # every write is refused, nothing changes
    assert ingestion(api, actor, ingestion_id) == taken_over


def test_a_first_load_taken_over_mid_batch_is_a_lost_ingestion_not_a_failure(
    server, api, monkeypatch, caplog
):
    # The stalled worker had found the topic empty (a first load: plain inserts, no conflict
    # handling), and its successor stored the rows meanwhile: the stalled worker's insert met
    # them (a unique violation) and it logged "failed unexpectedly", with a traceback, for an
    # ingestion the successor had completed.
    _, actor = new_collecting_tenant(server, api, ONEROSTER_MINIMAL)
    ingestion_id = queue_collection(api, actor)
    upsert = writes.upsert

    def taken_over_first(*args: Any, **kwargs: Any) -> tuple[int, int]:
        monkeypatch.setattr(writes, "upsert", upsert)
        assert run_worker(server, worker_stale_seconds=30) == 1  # the successor completes it
        return upsert(*args, **kwargs)

    with stalled_worker(server, ingestion_id, worker_stale_seconds=30) as wake:
        monkeypatch.setattr(writes, "upsert", taken_over_first)
        with caplog.at_level(logging.INFO):
            wake()
    completed = ingestion(api, actor, ingestion_id)
    assert completed["state"] == "success"
    assert f"worker stalled lost ingestion {ingestion_id} to another worker" in engine_log(caplog)
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


def test_a_worker_whose_ingestion_was_given_up_cannot_write(server, api):
    # Another worker gave the stalled one's ingestion up (its last attempt), which ends it
    # under the same attempt number: the stalled worker woke, ran the collection on and
    # recorded success over the failure.
    _, actor = new_collecting_tenant(server, api, ONEROSTER_MINIMAL)
    ingestion_id = queue_collection(api, actor)
    with stalled_worker(server, ingestion_id, ingestion_max_attempts=1) as wake:
        assert run_worker(server, ingestion_max_attempts=1) == 0  # gives it up
        given_up = ingestion(api, actor, ingestion_id)
        assert (given_up["state"], given_up["error"]["code"]) == ("failed", "worker_lost")
        wake()
    assert ingestion(api, actor, ingestion_id) == given_up
    assert repository(server, actor.extra["tenant_id"]) == {topic: set() for topic in TOPIC_TABLES}


def test_a_stale_ingestion_past_its_time_limit_ends_timeout(server, api):
    _, actor = new_collecting_tenant(server, api, ONEROSTER_MINIMAL)
    ingestion_id = queue_collection(api, actor)
    settings = engine_settings(server)
    database = Database(settings.resolved_database_url)
    assert Worker(database, settings).claim() is not None
    database.dispose()
    shift(server, ingestion_id, heartbeat_at=timedelta(hours=2), started_at=timedelta(hours=2))
    run_worker(server)
    result = ingestion(api, actor, ingestion_id)
    assert result["state"] == "timeout"
    assert result["error"]["code"] == "timeout"


def test_a_running_ingestion_times_out_between_batches(server, api):
    _, actor = new_collecting_tenant(server, api, ONEROSTER_MINIMAL)
    ingestion_id = queue_collection(api, actor)
    settings = engine_settings(server, ingestion_timeout=1, ingestion_batch_rows=1)
    database = Database(settings.resolved_database_url)
    worker = Worker(database, settings)
    claim = worker.claim()
    assert claim is not None
    time.sleep(1.1)
    worker.run(claim.lease)
    database.dispose()
    assert ingestion(api, actor, ingestion_id)["state"] == "timeout"


def test_an_ingestion_whose_workers_keep_dying_fails(server, api):
    _, actor = new_collecting_tenant(server, api, ONEROSTER_MINIMAL)
    ingestion_id = queue_collection(api, actor)
    settings = engine_settings(server, ingestion_max_attempts=2)
    database = Database(settings.resolved_database_url)
    for _ in range(2):
        assert Worker(database, settings).claim() is not None
        shift(server, ingestion_id, heartbeat_at=timedelta(hours=1))
    assert Worker(database, settings).claim() is None
    database.dispose()
    result = ingestion(api, actor, ingestion_id)
    assert result["state"] == "failed"
    assert result["error"]["code"] == "worker_lost"


def test_workers_that_shut_down_gracefully_do_not_count_as_dead(server, api):
    # Each graceful hand-back used one of the allowed attempts: after a rolling restart or
    # two, the first real crash failed the ingestion worker_lost.
    _, actor = new_collecting_tenant(server, api, ONEROSTER_MINIMAL)
    ingestion_id = queue_collection(api, actor)
    settings = engine_settings(server, ingestion_max_attempts=2, ingestion_batch_rows=1)
    database = Database(settings.resolved_database_url)
    stopping = threading.Event()
    stopping.set()
    for _ in range(3):
        worker = Worker(database, settings, stop=stopping)
        claim = worker.claim()
        assert claim is not None
        worker.run(claim.lease)  # stops at its first batch and hands the ingestion back
        assert ingestion(api, actor, ingestion_id)["state"] == "scheduled"
    crashed = Worker(database, settings).claim()  # then one worker dies holding it
    assert crashed is not None
    database.dispose()
    shift(server, ingestion_id, heartbeat_at=timedelta(hours=1))
    assert run_worker(server, ingestion_max_attempts=2) == 1
    assert ingestion(api, actor, ingestion_id)["state"] == "success"


class StopAfter(threading.Event):
    """A shutdown that comes after `checks` looks: the worker hands the ingestion back after
    that many batches. `then` runs as it comes."""

    def __init__(self, checks: int, then: Callable[[], None] = lambda: None) -> None:
        super().__init__()
        self.checks = checks
        self.then = then

    def is_set(self) -> bool:
        self.checks -= 1
        if self.checks == -1:
            self.then()
        return self.checks < 0


class Watching(threading.Event):
    """A shutdown that never comes: at each of the worker's looks (one before each batch) it
    reads the ingestion twice, a few heartbeats apart, and keeps (ETag, updated_at) of each."""

    def __init__(self, read: Callable[[], tuple[str, str]]) -> None:
        super().__init__()
        self.read = read
        self.seen: list[tuple[tuple[str, str], tuple[str, str]]] = []

    def is_set(self) -> bool:
        first = self.read()
        time.sleep(0.3)
        self.seen.append((first, self.read()))
        return False


def test_an_ingestion_s_etag_moves_with_each_batch_and_not_with_heartbeats(server, api):
    # Each batch's commit changed the ingestion's counts and progress under the same ETag
    # (as did each heartbeat its updated_at), and a run's end changed the tenant's status
    # under the same one.
    owner, actor = new_collecting_tenant(server, api, ONEROSTER_MINIMAL)
    tenant_url = f"/v2/interop/tenants/{actor.extra['tenant_id']}"
    tenant_etag = api.get(tenant_url, headers=owner.headers).headers["etag"]
    ingestion_id = queue_collection(api, actor)

    def read() -> tuple[str, str]:
        response = api.get(f"/v2/interop/ingestions/{ingestion_id}", headers=actor.headers)
        return response.headers["etag"], response.json()["data"]["updated_at"]

    settings = engine_settings(server, ingestion_batch_rows=5, worker_heartbeat_seconds=0.05)
    database = Database(settings.resolved_database_url)
    try:
        watching = Watching(read)
        worker = Worker(database, settings, stop=watching)
        claim = worker.claim()
        assert claim is not None
        worker.run(claim.lease)
    finally:
        database.dispose()
    assert ingestion(api, actor, ingestion_id)["state"] == "success"
    assert len(watching.seen) > 3
    for before, after in watching.seen:
        assert before == after  # heartbeats beat meanwhile
    looks = [after for _, after in watching.seen]
    for earlier, later in itertools.pairwise(looks):
        if later[1] != earlier[1]:
            assert later[0] != earlier[0], (earlier, later)
    assert api.get(tenant_url, headers=owner.headers).headers["etag"] != tenant_etag


def hand_back_after(server, batches: int) -> None:
    settings = engine_settings(server, ingestion_batch_rows=1)
    database = Database(settings.resolved_database_url)
    try:
        worker = Worker(database, settings, stop=StopAfter(batches))
        claim = worker.claim()
        assert claim is not None
        worker.run(claim.lease)
    finally:
        database.dispose()


def test_a_rerun_counts_on_from_where_the_earlier_attempt_got(server, api, tmp_path):
    # A rerun (after a takeover or a hand-back) reads the bundle again from its first row.
    # What the earlier attempt wrote stays written and is counted once, in created; but
    # records_read, rejected and progress started again from 0, so the stats said that 3
    # rows had been read and 9 records created from them.
    bundle = tmp_path / "bundle"
    shutil.copytree(ONEROSTER_MINIMAL, bundle)
    sessions = bundle / "academicSessions.csv"
    sessions.write_text(sessions.read_text() + "ter9,Term 9,term,someday,2021-12-04,,2021\n")
    _, actor = new_collecting_tenant(server, api, bundle)
    ingestion_id = queue_collection(api, actor)
    hand_back_after(server, 12)
    first = ingestion(api, actor, ingestion_id)
    assert first["state"] == "scheduled"
    assert first["stats"]["created"] > 0
    assert first["stats"]["rejected"] == 1
    hand_back_after(server, 3)  # stopped while reading again what the first one wrote
    second = ingestion(api, actor, ingestion_id)
    assert second["stats"] == first["stats"]
    assert second["progress"] == first["progress"]
    assert run_worker(server) == 1
    recovered = ingestion(api, actor, ingestion_id)

    _, clean = new_collecting_tenant(server, api, bundle)
    clean_id = queue_collection(api, clean)
    run_worker(server)
    clean_run = ingestion(api, clean, clean_id)
    assert (recovered["stats"], recovered["progress"]) == (
        clean_run["stats"],
        clean_run["progress"],
    )


def engine_log(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == "interop.engine"]


def test_losing_the_ingestion_while_recording_its_end_is_not_logged_as_a_failed_claim(
    server, api, caplog
):
    # Another worker took the ingestion over while this one downloaded its bundle: recording
    # the end was refused, and the log said "claiming failed; retrying", with a traceback, of
    # a claim that had succeeded.
    settings = engine_settings(server, worker_poll_seconds=0.05)
    database = Database(settings.resolved_database_url)
    ingestion_id = ""

    def take_over() -> None:
        shift(server, ingestion_id, heartbeat_at=timedelta(minutes=5))
        assert Worker(database, settings, name="successor").claim() is not None

    stop = threading.Event()
    worker = Worker(database, settings, name="first", stop=stop)
    thread = threading.Thread(target=worker.run_forever, daemon=True)
    try:
        with source_that(take_over) as location, caplog.at_level(logging.INFO):
            _, actor = new_collecting_tenant(server, api, location)
            ingestion_id = queue_collection(api, actor)
            thread.start()
            lost = f"worker first lost ingestion {ingestion_id} to another worker"
            wait_for(lambda: lost in engine_log(caplog) or "claiming" in str(engine_log(caplog)))
            stop.set()
            thread.join(timeout=10)
    finally:
        stop.set()
        database.dispose()
    assert lost in engine_log(caplog)
    assert not [message for message in engine_log(caplog) if "claiming failed" in message]
    assert ingestion(api, actor, ingestion_id)["state"] == "preparing"  # the successor's


def worker_process(server, **env: str) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "INTEROP_DATABASE_URL": server.database_url,
        "INTEROP_DATA_DIR": str(server.data_dir),
        "INTEROP_SOURCE_ROOTS": json.dumps([str(DATA), tempfile.gettempdir()]),
        "INTEROP_WORKER_POLL_SECONDS": "0.1",
        "INTEROP_LOG_LEVEL": "WARNING",
        **env,
    }
    interop = Path(sys.executable).parent / "interop"
    return subprocess.Popen(
        [str(interop), "worker", "--no-scheduler"],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_for(predicate, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


def test_sigkill_mid_ingestion_then_takeover_matches_a_clean_run(server, api, tmp_path):
    bundle = generated_bundle(tmp_path, 1500)
    _, victim = new_collecting_tenant(server, api, bundle)
    ingestion_id = queue_collection(api, victim)
    process = worker_process(server, INTEROP_INGESTION_BATCH_ROWS="50")
    try:
        wait_for(lambda: ingestion(api, victim, ingestion_id)["stats"]["created"] > 500)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    interrupted = ingestion(api, victim, ingestion_id)
    assert interrupted["state"] == "executing", interrupted
    time.sleep(1)  # the dead worker's heartbeat goes stale
    assert run_worker(server, worker_stale_seconds=0.5, worker_heartbeat_seconds=0.4) == 1
    recovered = ingestion(api, victim, ingestion_id)
    assert recovered["state"] == "success", recovered

    _, clean = new_collecting_tenant(server, api, bundle)
    clean_id = queue_collection(api, clean)
    run_worker(server)
    clean_run = ingestion(api, clean, clean_id)
    assert recovered["stats"] == clean_run["stats"]
    assert repository(server, victim.extra["tenant_id"]) == repository(
        server, clean.extra["tenant_id"]
    )


def test_a_generated_district_of_5000_students_ingests_through_a_schedule_run(
    server, api, tmp_path
):
    bundle = generated_bundle(tmp_path, 5000)
    _, actor = new_collecting_tenant(server, api, bundle)
    ingestion_id = queue_collection(api, actor)
    assert run_worker(server) == 1
    result = ingestion(api, actor, ingestion_id)
    assert result["state"] == "success", result
    expected = {
        "orgs": 11,
        "academic_sessions": 3,
        "courses": 100,
        "classes": 1000,
        "users": 5000 + 2500 + 260,
        "enrollments": 25000 + 1000,
        "demographics": 5000,
    }
    assert result["stats"]["created"] == sum(expected.values())
    assert result["stats"]["rejected"] == 0
    stored = repository(server, actor.extra["tenant_id"])
    assert {topic: len(rows) for topic, rows in stored.items()} == expected


@pytest.mark.parametrize("when", ["downloading", "writing"])
def test_a_tenant_deleted_mid_run_ends_its_ingestion_quietly(
    server, api, caplog, monkeypatch, when
):
    # The cloud deleted (and its tenant, ingestions and records with it) while the worker
    # downloaded the bundle, or before it wrote: the log said "failed unexpectedly" with a
    # foreign-key traceback, then that another worker had taken the ingestion over.
    tenant: dict[str, Caller] = {}

    def delete_the_cloud() -> None:
        owner, actor = tenant["owner"], tenant["actor"]
        url = f"/v2/interop/clouds/{actor.extra['cloud_id']}"
        assert api.delete(url, headers=owner.headers).status_code == 204

    apply = Collection.apply

    def deleted_first(collection: Collection, bundle: Any) -> Any:
        delete_the_cloud()
        return apply(collection, bundle)

    with contextlib.ExitStack() as stack:
        if when == "writing":
            monkeypatch.setattr(Collection, "apply", deleted_first)
            location = str(ONEROSTER_MINIMAL)
        else:
            location = stack.enter_context(source_that(delete_the_cloud))
        tenant["owner"], tenant["actor"] = new_collecting_tenant(server, api, location)
        queue_collection(api, tenant["actor"])
        with caplog.at_level(logging.INFO):
            assert run_worker(server) == 1
    records = [record for record in caplog.records if record.name == "interop.engine"]
    assert [record.getMessage() for record in records if record.levelno >= logging.WARNING] == []
    assert any("was deleted (with its tenant) while it ran" in r.getMessage() for r in records)


def cut_for_a_moment(proxy: TcpProxy) -> None:
    """The database goes away for a second: every connection through the proxy is cut, and
    new ones are refused until it starts again."""
    proxy.stop()
    threading.Timer(1.0, proxy.start).start()


def attempt(server, ingestion_id: str) -> int:
    return int(stored(server, Ingestion, ingestion_id, "attempt"))


def outages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [message for message in engine_log(caplog) if "cannot be reached" in message]


def end_not_recorded(worker: str, ingestion_id: str, fate: str) -> str:
    """The line of a worker that ran the ingestion but could not record how it ended."""
    return (
        f"worker {worker}: ingestion {ingestion_id} ran, but recording how it ended failed; {fate}"
    )


@pytest.mark.parametrize("end", ["failed", "success"])
def test_a_run_whose_end_meets_a_brief_outage_ends_once_the_database_is_back(
    own_postgres_database, proxied_postgres, tmp_path, monkeypatch, caplog, end
):
    # The database went away for a moment as the worker recorded how the run ended: the
    # ingestion stayed running until another worker, once its heartbeat was stale, took it
    # over (an attempt used) and ran it all again.
    proxy, through_proxy = proxied_postgres
    with contextlib.ExitStack() as stack:
        if end == "success":
            apply = Collection.apply

            def applied_then_cut(collection: Collection, bundle: Any) -> Any:
                tally = apply(collection, bundle)
                cut_for_a_moment(proxy)
                return tally

            monkeypatch.setattr(Collection, "apply", applied_then_cut)
            location = str(ONEROSTER_MINIMAL)
        else:  # the download fails, as the database goes away
            location = stack.enter_context(source_that(lambda: cut_for_a_moment(proxy)))
        target, api = stack.enter_context(serving_without_engine(own_postgres_database, tmp_path))
        _, actor = new_collecting_tenant(target, api, location)
        ingestion_id = queue_collection(api, actor)
        settings = engine_settings(target, database_url=through_proxy)
        database = Database(settings.resolved_database_url)
        stack.callback(database.dispose)
        with caplog.at_level(logging.INFO):
            assert Worker(database, settings).run_once()
        result = ingestion(api, actor, ingestion_id)
    assert result["state"] == end, result
    assert attempt(target, ingestion_id) == 1
    assert len(outages(caplog)) == 1  # once per outage, not per retry


@dataclass
class Queued:
    """A collection queued on a test server of its own, and what a worker reaching its
    database through the proxy works with (the engine's log captured meanwhile)."""

    target: Any
    api: httpx.Client
    actor: Caller
    ingestion_id: str
    settings: Settings
    database: Database


@contextlib.contextmanager
def queued_through_proxy(
    database_url: str, through_proxy: str, tmp_path: Path, caplog, location: str, **overrides
) -> Iterator[Queued]:
    """A collection from `location` queued, and a worker's settings (`overrides`) and
    database through the proxy."""
    with (
        serving_without_engine(database_url, tmp_path) as (target, api),
        caplog.at_level(logging.INFO),
    ):
        _, actor = new_collecting_tenant(target, api, location)
        ingestion_id = queue_collection(api, actor)
        settings = engine_settings(target, database_url=through_proxy, **overrides)
        database = Database(settings.resolved_database_url)
        try:
            yield Queued(target, api, actor, ingestion_id, settings, database)
        finally:
            database.dispose()


@dataclass
class Waiting(Queued):
    """A worker that ran a collection and waits, in a thread, to record how it ended."""

    stop: threading.Event
    runner: threading.Thread


@contextlib.contextmanager
def waiting_out_an_outage(
    database_url: str, proxy: TcpProxy, through_proxy: str, tmp_path: Path, caplog, **overrides
) -> Iterator[Waiting]:
    """A worker whose database connection (through the proxy) goes away as it downloads the
    bundle, for good unless the test starts the proxy again; the download fails, and this
    yields once the worker waits to record that."""
    stop = threading.Event()
    with (
        source_that(proxy.stop) as location,
        queued_through_proxy(
            database_url, through_proxy, tmp_path, caplog, location, **overrides
        ) as queued,
    ):
        worker = Worker(queued.database, queued.settings, name="waiting", stop=stop)
        runner = threading.Thread(target=worker.run_once, daemon=True)
        try:
            runner.start()
            wait_for(lambda: bool(outages(caplog)), timeout=20)
            yield Waiting(**vars(queued), stop=stop, runner=runner)
        finally:
            stop.set()
            runner.join(timeout=30)


def test_a_worker_stopping_while_the_database_stays_away_gives_up_within_its_bound(
    own_postgres_database, proxied_postgres, tmp_path, caplog
):
    # The stop cuts the wait to record the run's end (INTEROP_WORKER_STALE_SECONDS) short;
    # handing the ingestion back is retried for up to 20 s, or the stale time if shorter.
    with waiting_out_an_outage(
        own_postgres_database,
        *proxied_postgres,
        tmp_path,
        caplog,
        worker_stale_seconds=3,
        worker_heartbeat_seconds=1,
    ) as w:
        w.stop.set()
        w.runner.join(timeout=30)
        assert not w.runner.is_alive()
        assert ingestion(w.api, w.actor, w.ingestion_id)["state"] == "preparing"  # for a takeover
    assert engine_log(caplog)[-1] == end_not_recorded("waiting", w.ingestion_id, TAKEN_OVER)


def test_a_worker_stopping_while_it_waits_to_record_the_end_hands_the_ingestion_back(
    own_postgres_database, proxied_postgres, tmp_path, caplog
):
    # Stopped while the database was away, the worker tried once to hand the ingestion back,
    # then left it running until another worker took it over once its heartbeat was stale.
    proxy, _ = proxied_postgres
    with waiting_out_an_outage(own_postgres_database, *proxied_postgres, tmp_path, caplog) as w:
        w.stop.set()
        wait_for(lambda: any("to hand it back" in message for message in outages(caplog)), 20)
        proxy.start()
        w.runner.join(timeout=30)
        assert ingestion(w.api, w.actor, w.ingestion_id)["state"] == "scheduled"
    assert attempt(w.target, w.ingestion_id) == 1  # as after a mid-run outage, an attempt
    assert engine_log(caplog)[-1] == end_not_recorded(
        "waiting", w.ingestion_id, "it is handed back"
    )


def test_a_worker_stopping_mid_run_as_the_database_goes_away_hands_the_ingestion_back(
    own_postgres_database, proxied_postgres, tmp_path, caplog
):
    # The database went away for a moment as the worker stopped between batches: handing the
    # ingestion back failed, logged with a traceback as a failure to record the run's end,
    # and the ingestion stayed running until a stale takeover, which used an attempt.
    proxy, through_proxy = proxied_postgres
    with queued_through_proxy(
        own_postgres_database,
        through_proxy,
        tmp_path,
        caplog,
        str(ONEROSTER_MINIMAL),
        ingestion_batch_rows=1,
    ) as q:
        stop = StopAfter(3, then=lambda: cut_for_a_moment(proxy))
        worker = Worker(q.database, q.settings, name="stopping", stop=stop)
        claim = worker.claim()
        assert claim is not None
        worker.run(claim.lease)
        assert ingestion(q.api, q.actor, q.ingestion_id)["state"] == "scheduled"
    assert attempt(q.target, q.ingestion_id) == 0  # a shutdown gives its attempt back
    assert len(outages(caplog)) == 1
    assert engine_log(caplog)[-1] == f"worker stopping released ingestion {q.ingestion_id}"


def test_an_end_committed_as_the_connection_drops_is_logged_as_recorded(
    own_postgres_database, proxied_postgres, tmp_path, caplog
):
    # PostgreSQL committed the run's end, and the connection dropped before its reply came
    # back: the retry was refused by the fence, rightly (the end is recorded once), and the
    # log said "worker first lost ingestion ... to another worker", of an ingestion no other
    # worker had touched.
    proxy, through_proxy = proxied_postgres
    with (
        source_that(proxy.lose_the_reply_to_the_next_commit) as location,
        # No heartbeat meanwhile: the worker's next commit after the download is the end's.
        queued_through_proxy(
            own_postgres_database,
            through_proxy,
            tmp_path,
            caplog,
            location,
            worker_heartbeat_seconds=3600,
            worker_stale_seconds=7200,
        ) as q,
    ):
        assert Worker(q.database, q.settings, name="first").run_once()
        result = ingestion(q.api, q.actor, q.ingestion_id)
    assert (result["state"], result["error"]["code"]) == ("failed", "source_unavailable")
    assert attempt(q.target, q.ingestion_id) == 1
    assert [message for message in engine_log(caplog) if "another worker" in message] == []
    assert engine_log(caplog)[-1] == (
        f"ingestion {q.ingestion_id} ended failed (source_unavailable), recorded as the "
        "connection dropped: the retry found it"
    )


def test_a_locked_sqlite_database_holds_a_run_s_end_no_longer_than_the_stale_time(tmp_path, caplog):
    # Another connection held SQLite's write lock (a backup, a sqlite3 shell) as the run
    # ended: each try to record the end waited out the 30 s busy timeout, and the worker,
    # with INTEROP_WORKER_STALE_SECONDS at 2, went on trying and then handing the ingestion
    # back for some 90 s (120 s at the default 60), long after its lease had gone stale. Its
    # heartbeat, blocked on the lock as well, held it 10 s more once it gave up.
    heartbeats_before = set(threading.enumerate())
    database_file = tmp_path / "interop.db"
    holder = sqlite3.connect(database_file, isolation_level=None, check_same_thread=False)
    stop = threading.Event()
    with (
        serving("sqlite", f"sqlite:///{database_file}", tmp_path) as target,
        httpx.Client(base_url=target.base_url, timeout=30) as api,
        source_that(lambda: holder.execute("BEGIN IMMEDIATE")) as location,
        caplog.at_level(logging.INFO),
    ):
        _, actor = new_collecting_tenant(target, api, location)
        ingestion_id = queue_collection(api, actor)
        settings = engine_settings(target, worker_stale_seconds=2, worker_heartbeat_seconds=1)
        database = Database(settings.resolved_database_url)
        runner = threading.Thread(
            target=Worker(database, settings, name="locked-out", stop=stop).run_once,
            daemon=True,
        )
        try:
            runner.start()
            runner.join(timeout=25)  # the lock is held this long, or until the worker gives up
            beating = [
                thread
                for thread in threading.enumerate()
                if thread.name == "interop-heartbeat" and thread not in heartbeats_before
            ]
            holder.execute("ROLLBACK")
            runner.join(timeout=60)
        finally:
            stop.set()
            database.dispose()
            holder.close()
        assert ingestion(api, actor, ingestion_id)["state"] == "preparing"  # given up, locked
    assert beating == []  # the heartbeat had stopped too
    assert end_not_recorded("locked-out", ingestion_id, TAKEN_OVER) in engine_log(caplog)


def test_an_end_recorded_late_does_not_overwrite_a_takeover_meanwhile(
    own_postgres_database, proxied_postgres, tmp_path, caplog
):
    # The database is away from the first worker only (a network partition) for longer
    # than its lease: another worker takes the ingestion over and ends it. The first one's
    # end, once it reaches the database again, is not recorded over the successor's.
    proxy, _ = proxied_postgres
    with waiting_out_an_outage(own_postgres_database, *proxied_postgres, tmp_path, caplog) as w:
        shift(w.target, w.ingestion_id, heartbeat_at=timedelta(minutes=5))
        assert run_worker(w.target) == 1  # the successor reaches the database
        successor = ingestion(w.api, w.actor, w.ingestion_id)
        assert successor["state"] == "failed"
        proxy.start()
        w.runner.join(timeout=30)
        assert not w.runner.is_alive()
        assert ingestion(w.api, w.actor, w.ingestion_id) == successor
    assert attempt(w.target, w.ingestion_id) == 2
    assert f"worker waiting lost ingestion {w.ingestion_id} to another worker" in engine_log(caplog)


def test_heartbeats_failing_through_an_outage_are_logged_once(
    own_postgres_database, proxied_postgres, tmp_path, caplog
):
    # Every failed beat logged a warning: one every INTEROP_WORKER_HEARTBEAT_SECONDS for as
    # long as the database was away, while the worker waited to record the run's end. A stale
    # time of 3 s bounds the hand-back tried when the block stops the worker (else 20 s).
    with waiting_out_an_outage(
        own_postgres_database,
        *proxied_postgres,
        tmp_path,
        caplog,
        worker_heartbeat_seconds=0.05,
        worker_stale_seconds=3,
    ):
        time.sleep(1)  # some 20 beats
    beats = [message for message in engine_log(caplog) if message.startswith("heartbeat")]
    assert len(beats) == 1, beats
