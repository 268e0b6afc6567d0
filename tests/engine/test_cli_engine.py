"""`interop ingestions run --wait` and `interop worker`, run as the operator runs them."""

import gc
import logging
import signal
import subprocess
import threading
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from cli_runner import INTEROP, environment, invoke
from factories import (
    ONEROSTER_MINIMAL,
    collect,
    engine_settings,
    new_collecting_tenant,
    queue_collection,
    run_worker,
)
from interop.config import Settings
from interop.db import Database, utcnow
from interop.engine import scheduler
from interop.engine.commands import start_engine
from interop.engine.runner import Engine
from interop.engine.worker import Worker
from interop.ingestions.models import Ingestion


def interop(server, *args: str) -> subprocess.Popen[str]:
    env = environment(server.data_dir, INTEROP_DATABASE_URL=server.database_url)
    return subprocess.Popen(
        [INTEROP, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_ingestions_run_wait_follows_the_ingestion_to_its_end(server, api):
    _, actor = new_collecting_tenant(server, api, ONEROSTER_MINIMAL)
    waiting = interop(
        server, "ingestions", "run", actor.extra["tenant_id"], "--wait", "--timeout", "60"
    )
    ran = 0
    while ran == 0 and waiting.poll() is None:
        ran = run_worker(server)
    out, err = waiting.communicate(timeout=60)
    assert waiting.returncode == 0, err
    assert "queued ingestion" in out
    assert "success: read 32, created 32" in out
    assert "users.csv" in err  # the progress bar's line for the file


def test_ingestions_run_wait_says_so_when_the_tenant_is_deleted(server, api):
    # Deleting the tenant deletes its ingestions, running or queued: the next poll found no
    # row and stopped on an AssertionError traceback.
    owner, actor = new_collecting_tenant(server, api, ONEROSTER_MINIMAL)
    waiting = interop(server, "ingestions", "run", actor.extra["tenant_id"], "--wait")
    queued = waiting.stdout.readline()  # no worker runs here: it stays queued
    assert queued.startswith("queued ingestion "), waiting.communicate(timeout=60)
    ingestion_id = queued.split()[-1]
    deleted = api.delete(f"/v2/interop/clouds/{actor.extra['cloud_id']}", headers=owner.headers)
    assert deleted.status_code == 204, deleted.text
    _, err = waiting.communicate(timeout=60)
    assert waiting.returncode == 1
    assert f"error: ingestion {ingestion_id} was deleted with its tenant" in " ".join(err.split())
    assert "Traceback" not in err


def test_ingestions_run_refuses_a_second_pending_ingestion(server, api):
    _, actor = new_collecting_tenant(server, api, ONEROSTER_MINIMAL)
    first = interop(server, "ingestions", "run", actor.extra["tenant_id"])
    assert first.wait(timeout=60) == 0
    second = interop(server, "ingestions", "run", actor.extra["tenant_id"])
    _, err = second.communicate(timeout=60)
    assert second.returncode == 1
    assert "pending ingestion" in err


def test_ingestions_run_for_an_unknown_tenant_fails_clearly(server):
    process = interop(server, "ingestions", "run", str(uuid.uuid4()))
    _, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert "tenant" in err and "Traceback" not in err


def test_a_worker_process_leaves_its_start_up_objects_out_of_collections(server):
    """What `interop worker` starts, run in this process, where its gc state can be read (with
    no worker threads: they would claim other tests' queued ingestions)."""
    gc.unfreeze()
    settings = engine_settings(server)
    database = Database.from_settings(settings)
    engine = start_engine(database, settings, workers=0, scheduler=False)
    try:
        assert gc.get_freeze_count() > 0
    finally:
        engine.stop()
        database.dispose()
        gc.unfreeze()


def _dies(_worker: Worker) -> None:
    raise RuntimeError("the worker's loop broke")


def test_a_worker_whose_thread_dies_exits_1_saying_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Python's thread hook printed the traceback, and the process, its threads gone, exited
    # 0 as if stopped. In this process: the thread is made to die.
    monkeypatch.setattr(Worker, "run_forever", _dies)
    monkeypatch.setattr(signal, "signal", lambda *args: None)  # this process's handlers stay
    try:
        result = invoke(["worker", "--no-scheduler"], tmp_path)
    finally:
        gc.unfreeze()
    assert result.returncode == 1
    assert "engine thread interop-worker-0 died" in result.stderr  # the log, with its traceback
    assert "RuntimeError: the worker's loop broke" in result.stderr
    assert result.stderr.endswith(
        "error: engine thread interop-worker-0 died (logged above); stopped the others\n"
    )


def test_an_engine_stops_waiting_when_a_thread_dies_while_others_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Waiting on the scheduler, which runs until stopped, `interop worker` went on as if
    # alive with its worker dead.
    monkeypatch.setattr(Worker, "run_forever", _dies)
    monkeypatch.setattr(scheduler, "tick", lambda database: 0)
    database = Database(f"sqlite:///{tmp_path / 'interop.db'}")
    engine = Engine(database, Settings(data_dir=tmp_path))
    with caplog.at_level(logging.ERROR, logger="interop.engine"):
        engine.start(workers=1, run_scheduler=True)
        waiting = threading.Thread(target=engine.wait, daemon=True)
        waiting.start()
        waiting.join(timeout=10)
        stopped_waiting = not waiting.is_alive()
        engine.stop()
        database.dispose()
    assert stopped_waiting
    assert engine.died == ["interop-worker-0"]
    assert [record.getMessage() for record in caplog.records] == [
        "engine thread interop-worker-0 died"
    ]


def test_ingestions_prune_deletes_old_history_but_each_tenant_s_latest(server, api):
    tenants = [new_collecting_tenant(server, api, ONEROSTER_MINIMAL)[1] for _ in range(2)]
    ended = {
        actor.extra["tenant_id"]: [collect(server, api, actor)["id"] for _ in range(3)]
        for actor in tenants
    }
    first, second = (ended[actor.extra["tenant_id"]] for actor in tenants)
    _complete_days_ago(server, dict(zip(first, (100, 90, 80), strict=True)))
    _complete_days_ago(server, dict(zip(second, (100, 90, 1), strict=True)))
    pending = queue_collection(api, tenants[0])

    pruning = interop(server, "ingestions", "prune", "--older-than-days", "30")
    out, err = pruning.communicate(timeout=60)
    assert pruning.returncode == 0, err
    assert out.startswith("deleted 4 ingestions completed before ")
    # Each tenant's latest ended one stays, however old (the first's, 80 days), with the
    # pending one; the rest older than 30 days go.
    remaining = _ingestion_ids(server)
    assert {first[2], pending, second[2]} <= remaining
    assert not {first[0], first[1], second[0], second[1]} & remaining


def _complete_days_ago(server, days_by_id: dict[str, int]) -> None:
    database = Database(server.database_url)
    try:
        with database.transaction() as session:
            for ingestion_id, days in days_by_id.items():
                row = session.get(Ingestion, uuid.UUID(ingestion_id))
                row.completed_at = utcnow() - timedelta(days=days)
    finally:
        database.dispose()


def _ingestion_ids(server) -> set[str]:
    database = Database(server.database_url)
    try:
        with database.transaction(write=False) as session:
            return {str(i) for i in session.scalars(select(Ingestion.id))}
    finally:
        database.dispose()
