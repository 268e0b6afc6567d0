"""Workers: claim a queued ingestion, run it, and take over ingestions whose worker died.

The ingestion row is the job. Claiming bumps its `attempt`; every write the run makes is
fenced by that number and the row still running (`Lease.held`), so after a takeover or a
give-up the old worker (if it still lives) cannot commit.
PostgreSQL workers claim with `FOR UPDATE SKIP LOCKED` and never block each other; SQLite's
write lock serializes claims.
"""

import functools
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Select, and_, exists, or_, select, update
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

import interop.models  # noqa: F401 - every table, so foreign keys resolve in a bare worker
from interop.actors.models import Actor
from interop.config import Settings
from interop.connectors.bundle import BundleError, open_bundle
from interop.connectors.oneroster_csv import NUL, read_manifest
from interop.db import Database, utcnow
from interop.engine.collection import (
    RUNNING_STATES,
    Collection,
    IngestionTimedOut,
    Lease,
    LostLease,
    Tally,
    WorkerStopping,
    plan,
)
from interop.engine.scope import load_scoping, source_fingerprint
from interop.ingestions.models import Ingestion
from interop.rollovers.repository import rollover_in_effect
from interop.tenants.models import Tenant

log = logging.getLogger("interop.engine")
# Writing the ingestion's row while the database is away (recording a run's end, handing the
# ingestion back): the first retry waits this long, each next one twice as long as the one
# before, up to OUTAGE_RETRY_MAX_SECONDS.
OUTAGE_RETRY_FIRST_SECONDS = 0.1
OUTAGE_RETRY_MAX_SECONDS = 5.0
# How long a stopping engine waits for each of its threads (Engine.stop).
STOP_GRACE_SECONDS = 30.0
# How long handing an ingestion back is retried through an outage, or for
# INTEROP_WORKER_STALE_SECONDS if shorter (then another worker takes it over anyway). On
# shutdown that ends within STOP_GRACE_SECONDS, with time to spare for the batch in flight
# when the stop came and the heartbeat's last beat.
HAND_BACK_SECONDS = 20.0
TAKEN_OVER = "it is taken over once its heartbeat is stale"
# What the log adds when a retry finds its write done: committed as the connection dropped,
# before the reply came back.
FOUND_DONE = "recorded as the connection dropped: the retry found it"


@dataclass(frozen=True)
class Claim:
    lease: Lease
    resumed: bool


class Worker:
    def __init__(
        self,
        database: Database,
        settings: Settings,
        name: str | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.database = database
        self.settings = settings
        self.stop = stop or threading.Event()
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"

    def run_forever(self) -> None:
        while not self.stop.is_set():
            try:
                claim = self.claim()
            except Exception:  # a database outage must not kill the worker thread
                log.exception("worker %s: claiming failed; retrying", self.name)
                claim = None
            if claim is None:
                self.stop.wait(self.settings.worker_poll_seconds)
            else:
                self.run(claim.lease)  # logs its own failures, as what they are

    def run_once(self) -> bool:
        """Claim and run one ingestion; False when there was nothing to claim."""
        claim = self.claim()
        if claim is None:
            return False
        self.run(claim.lease)
        return True

    def claim(self) -> Claim | None:
        with self.database.transaction() as session:
            ingestion = session.scalar(self._claimable())
            if ingestion is None:
                return None
            resumed = ingestion.state in RUNNING_STATES
            if resumed and self._give_up(session, ingestion):
                return None
            now = utcnow()
            ingestion.attempt += 1
            ingestion.state = "preparing"
            ingestion.worker_id = self.name
            ingestion.heartbeat_at = now
            ingestion.started_at = ingestion.started_at or now
            ingestion.version += 1
            session.flush()
            lease = Lease(
                ingestion.id,
                ingestion.tenant_id,
                ingestion.attempt,
                ingestion.started_at,
                self.settings.ingestion_timeout,
            )
        log.info(
            "worker %s %s ingestion %s (attempt %d)",
            self.name,
            "took over" if resumed else "claimed",
            lease.ingestion_id,
            lease.attempt,
        )
        return Claim(lease, resumed)

    def _claimable(self) -> Select[Ingestion]:
        stale = utcnow() - timedelta(seconds=self.settings.worker_stale_seconds)
        statement = (
            select(Ingestion)
            .where(
                or_(
                    Ingestion.state == "scheduled",
                    and_(Ingestion.state.in_(RUNNING_STATES), Ingestion.heartbeat_at < stale),
                )
            )
            .order_by(Ingestion.requested_at, Ingestion.id)
            .limit(1)
        )
        if not self.database.is_sqlite:
            statement = statement.with_for_update(skip_locked=True)
        return statement

    def _give_up(self, session: Session, ingestion: Ingestion) -> bool:
        """A stale ingestion past its time or its attempts ends here instead of running."""
        timeout = timedelta(seconds=self.settings.ingestion_timeout)
        if ingestion.started_at and utcnow() - ingestion.started_at > timeout:
            _end(ingestion, "timeout", "timeout", "the ingestion ran past its time limit")
        elif ingestion.attempt >= self.settings.ingestion_max_attempts:
            _end(
                ingestion,
                "failed",
                "worker_lost",
                f"{ingestion.attempt} workers stopped while running it",
            )
        else:
            return False
        _set_tenant_state(session, ingestion.tenant_id, "error")
        return True

    def run(self, lease: Lease) -> None:
        """Run a claimed ingestion and record how it ended. Raises nothing: when the end
        cannot be recorded (see `_finish`), that is logged (not as a failed claim, the
        worker's next step), and the ingestion, still running by its row, is taken over once
        its heartbeat is stale."""
        heartbeat = _Heartbeat(self.database, lease, self.settings.worker_heartbeat_seconds)
        heartbeat.start()
        try:
            self._run_to_its_end(lease, heartbeat)
        except LostLease:
            if self._deleted(lease):
                log.info(
                    "ingestion %s was deleted (with its tenant) while it ran; its run is dropped",
                    lease.ingestion_id,
                )
            else:
                log.warning(
                    "worker %s lost ingestion %s to another worker", self.name, lease.ingestion_id
                )
        except Exception:
            log.exception(
                "worker %s: ingestion %s ran, but recording how it ended failed; %s",
                self.name,
                lease.ingestion_id,
                TAKEN_OVER,
            )
        finally:
            heartbeat.stop()

    def _run_to_its_end(self, lease: Lease, heartbeat: "_Heartbeat") -> None:
        """Run the ingestion, and record its end: what raises here is the recording."""
        try:
            self._run(lease)
        except WorkerStopping:
            heartbeat.stop()  # before the attempt is given back: its beats are fenced by it
            self._hand_back_or_say_so(lease, give_back_attempt=True)
        except OperationalError as exc:
            # The database dropped the connection mid-run (a restart, a failover, a network
            # blip). A run is safe to repeat from the start (a takeover compares by digest),
            # so it goes back to the queue, as an attempt: failing it for a moment's outage
            # lost it, while a longer outage recovered through the stale takeover.
            log.warning(
                "ingestion %s: the database dropped the connection (%s); handing it back",
                lease.ingestion_id,
                type(exc.orig).__name__,
            )
            self._hand_back_or_say_so(lease, give_back_attempt=False)
        except LostLease:
            raise
        except IngestionTimedOut as exc:
            self._finish(lease, "timeout", error=("timeout", str(exc)))
        except BundleError as exc:
            if lease.seconds_left() < 0:  # a download cut at the ingestion's time limit
                self._finish(lease, "timeout", error=("timeout", exc.message))
            else:
                self._finish(lease, "failed", error=(exc.code, exc.message))
        except Exception as exc:
            if self._lost(lease):
                # Deleted with its tenant meanwhile, or taken over: the error was a write
                # meeting the cascade (a foreign key) or the successor's rows (a first load's
                # inserts expect none), nothing to report as a failure.
                raise LostLease(f"ingestion {lease.ingestion_id} is no longer this run's") from exc
            log.exception("ingestion %s failed unexpectedly", lease.ingestion_id)
            self._finish(lease, "failed", error=("internal_error", type(exc).__name__))

    def _deleted(self, lease: Lease) -> bool:
        """Whether the ingestion's row is gone (its tenant deleted); False when that cannot
        be told."""
        return self._row_is(lease, lambda ingestion: ingestion is None)

    def _lost(self, lease: Lease) -> bool:
        """Whether the ingestion is no longer this attempt's to run (`Lease.held`): gone,
        taken over by another attempt, or ended meanwhile; False when that cannot be told."""
        try:
            with self.database.transaction(write=False) as session:
                return not session.scalar(select(exists().where(lease.held())))
        except SQLAlchemyError:
            return False

    def _row_is(self, lease: Lease, test: Callable[[Ingestion | None], bool]) -> bool:
        """Whether the ingestion's row as it is now (None when gone) passes `test`; False
        when it cannot be read."""
        try:
            with self.database.transaction(write=False) as session:
                return test(session.get(Ingestion, lease.ingestion_id))
        except SQLAlchemyError:
            return False

    def _run(self, lease: Lease) -> None:
        with self.database.transaction(write=False) as session:
            source = _connector_source(session, lease.tenant_id)
            rules = load_scoping(session, lease.tenant_id)
            now = utcnow()
            suspended = rollover_in_effect(session, lease.tenant_id, now, "suspend_collection")
            retain = rollover_in_effect(session, lease.tenant_id, now, "retain_deletes") is not None
        if suspended is not None:
            message = f"rollover {suspended} suspends collection"
            self._finish(lease, "cancelled", error=("collection_suspended", message))
            return
        if source is None:
            message = "the tenant's cloud has no connector with a source to collect from"
            self._finish(lease, "failed", error=("no_connector", message))
            return
        with open_bundle(
            source,
            roots=self.settings.source_roots,
            max_bytes=self.settings.max_bundle_bytes,
            allow_private=self.settings.source_allow_private_networks,
            scratch=self.settings.data_dir / "downloads",
            download_seconds=lease.seconds_left(),
        ) as bundle:
            read_manifest(bundle)
            fingerprint = source_fingerprint(bundle, rules, retain)
            previous = _unchanged_since(lease, fingerprint, self.database)
            if previous is not None:
                self._finish(lease, "success", tally=previous)
                return
            index = plan(bundle, rules, lease, self.database)
            self._set_state(lease, "executing")
            collection = Collection(
                self.database,
                lease,
                index,
                self.settings.ingestion_batch_rows,
                retain_deletes=retain,
                should_stop=self.stop.is_set,
            )
            tally = collection.apply(bundle)
            tally.fingerprint = fingerprint
        self._finish(lease, "success", tally=tally)

    def _hand_back_or_say_so(self, lease: Lease, give_back_attempt: bool) -> None:
        if not self._hand_back(lease, give_back_attempt, self._hand_back_seconds()):
            log.error(
                "worker %s: ingestion %s could not be handed back, the database stayed away; %s",
                self.name,
                lease.ingestion_id,
                TAKEN_OVER,
            )

    def _hand_back_seconds(self) -> float:
        return min(HAND_BACK_SECONDS, self.settings.worker_stale_seconds)

    def _hand_back(self, lease: Lease, give_back_attempt: bool, seconds: float) -> bool:
        """Put the ingestion back in the queue, through a database outage of up to `seconds`
        (`_hand_back_seconds`, above all when the worker is stopping: one failed try on
        shutdown left the ingestion running until a stale takeover, which used an attempt).
        False when the database stayed away: then the takeover carries it on. Raises
        LostLease when another worker holds it now.

        On shutdown the attempt is given back: `attempt` counts workers that died holding it
        (after INTEROP_INGESTION_MAX_ATTEMPTS it fails `worker_lost`), and a rolling restart
        is not a death. This worker writes nothing more, so the next claim may reuse the
        number. After an outage it is not: the run is handed back as an attempt."""
        attempt = lease.attempt - 1 if give_back_attempt else lease.attempt
        return self._through_outage(
            lease,
            functools.partial(self._release, lease, attempt),
            functools.partial(self._found_released, lease, attempt),
            "hand it back",
            seconds,
        )

    def _release(self, lease: Lease, attempt: int, lock_wait: float) -> None:
        with self.database.transaction(lock_wait=lock_wait) as session:
            ingestion = _leased(session, lease)
            ingestion.state = "scheduled"
            ingestion.worker_id = None
            ingestion.heartbeat_at = None
            ingestion.attempt = attempt
            ingestion.version += 1
        log.info("worker %s released ingestion %s", self.name, lease.ingestion_id)

    def _found_released(self, lease: Lease, attempt: int) -> bool:
        """Whether the row is back in the queue as this worker's hand-back leaves it (and the
        log says so): the retry of a hand-back whose commit landed as the connection
        dropped."""
        if not self._row_is(
            lease,
            lambda row: (
                row is not None
                and (row.state, row.attempt, row.worker_id) == ("scheduled", attempt, None)
            ),
        ):
            return False
        log.info("worker %s released ingestion %s, %s", self.name, lease.ingestion_id, FOUND_DONE)
        return True

    def _set_state(self, lease: Lease, state: str) -> None:
        with self.database.transaction() as session:
            ingestion = _leased(session, lease)
            ingestion.state = state
            ingestion.version += 1
            _set_tenant_state(session, lease.tenant_id, "running")

    def _finish(
        self,
        lease: Lease,
        state: str,
        error: tuple[str, str] | None = None,
        tally: Tally | None = None,
    ) -> None:
        """Record how the run ended, keeping the result through a database outage (a
        restart, a failover): the recording is retried until the database returns, for as
        long as the lease would hold without heartbeats (INTEROP_WORKER_STALE_SECONDS), where
        a moment's outage left the ingestion running until another worker took it over (an
        attempt used, the run done again). If the worker stops meanwhile, the ingestion is
        handed back as after a mid-run outage; past that time, the hand-back is tried once
        more, waiting for nothing, so that the whole stays within the stale time (another
        worker's takeover is as good then). The fence (`_leased`) records the end once: not
        over a takeover or a give-up meanwhile, nor again after a commit that landed as the
        connection dropped (which the retry tells from the row)."""
        if self._through_outage(
            lease,
            functools.partial(self._record_end, lease, state, error, tally),
            functools.partial(self._found_ended, lease, state, error),
            "record how it ended",
            self.settings.worker_stale_seconds,
            stoppable=True,
        ):
            return
        seconds = self._hand_back_seconds() if self.stop.is_set() else 0.0
        handed_back = self._hand_back(lease, give_back_attempt=False, seconds=seconds)
        fate = "it is handed back" if handed_back else TAKEN_OVER
        log.error(
            "worker %s: ingestion %s ran, but recording how it ended failed; %s",
            self.name,
            lease.ingestion_id,
            fate,
        )

    def _through_outage(
        self,
        lease: Lease,
        write: Callable[[float], None],
        found_done: Callable[[], bool],
        purpose: str,
        seconds: float,
        stoppable: bool = False,
    ) -> bool:
        """Do `write`, again and again while the database cannot be reached (pausing longer
        each time), until `seconds` have passed since the first try or, if `stoppable`, the
        worker stops: whether it was done. The outage is logged once, when it begins (with
        `seconds` 0, one try, nothing to log).

        `write` is given how long it may wait for SQLite's write lock: another connection
        holding it (a backup, a `sqlite3` shell) is an outage too, where each try waited out
        the 30 s busy timeout, deaf to a stop, and the tries went on long past `seconds`. The
        first try waits at most `seconds`, each retry no longer than the pause before it.

        A retry the fence refuses (LostLease) may have met this very write, committed as the
        connection dropped before its reply came back: `found_done` tells that from the row
        (and logs it), and then the write was done."""
        deadline = time.monotonic() + seconds
        lock_wait = seconds
        pause = OUTAGE_RETRY_FIRST_SECONDS
        failing = False
        while True:
            try:
                write(max(0.0, min(lock_wait, deadline - time.monotonic())))
                return True
            except OperationalError as exc:
                if not failing and seconds > 0:
                    log.warning(
                        "ingestion %s: the database cannot be reached (%s) to %s; retrying "
                        "for up to %g s",
                        lease.ingestion_id,
                        type(exc.orig).__name__,
                        purpose,
                        seconds,
                    )
                failing = True
            except LostLease:
                if failing and found_done():
                    return True
                raise
            wait = min(pause, deadline - time.monotonic())
            if wait <= 0 or (stoppable and self.stop.wait(wait)):
                return False
            if not stoppable:
                time.sleep(wait)
            lock_wait = pause
            pause = min(pause * 2, OUTAGE_RETRY_MAX_SECONDS)

    def _found_ended(self, lease: Lease, state: str, error: tuple[str, str] | None) -> bool:
        """Whether the row holds the end this attempt was recording (and the log says so):
        its own commit, landed as the connection dropped. No other worker ends a row so: a
        give-up under the same attempt ends it with an error of its own."""
        code, message = error or (None, None)
        if not self._row_is(
            lease,
            lambda row: (
                row is not None
                and (row.attempt, row.state, row.error_code, row.error_message)
                == (lease.attempt, state, code, message)
            ),
        ):
            return False
        _log_end(lease, state, code, f", {FOUND_DONE}")
        return True

    def _record_end(
        self,
        lease: Lease,
        state: str,
        error: tuple[str, str] | None,
        tally: Tally | None,
        lock_wait: float,
    ) -> None:
        with self.database.transaction(lock_wait=lock_wait) as session:
            ingestion = _leased(session, lease)
            code, message = error or (None, None)
            _end(ingestion, state, code, message)
            if tally is not None:
                ingestion.records_read = tally.records_read
                ingestion.rejected = tally.rejected
                ingestion.progress = dict(tally.progress)
                ingestion.details = tally.details()
            tenant = session.get(Tenant, lease.tenant_id)
            if tenant is not None:
                tenant.op_state = {"success": "idle", "cancelled": "idle"}.get(state, "error")
                if state == "success":
                    tenant.last_sync_at = ingestion.completed_at
                tenant.version += 1  # its status changed (op_state, last_sync_at)
        _log_end(lease, state, code)


def _log_end(lease: Lease, state: str, code: str | None, how: str = "") -> None:
    log.info(
        "ingestion %s ended %s%s%s", lease.ingestion_id, state, f" ({code})" if code else "", how
    )


def _unchanged_since(lease: Lease, fingerprint: str, database: Database) -> Tally | None:
    """The tally of the tenant's last collection when it read this very source under the
    same scoping and left the repository equal to it: nothing to do but say so again."""
    with database.transaction(write=False) as session:
        if session.scalar(select(Ingestion.progress).where(lease.held())):
            # An earlier attempt of this one committed batches (it was taken over or handed
            # back), maybe of another export: what the last success left is gone.
            return None
        last = session.scalar(
            select(Ingestion)
            .where(
                Ingestion.tenant_id == lease.tenant_id,
                Ingestion.id != lease.ingestion_id,
                Ingestion.state.in_(("success", "failed", "timeout")),
            )
            .order_by(Ingestion.completed_at.desc(), Ingestion.id.desc())
            .limit(1)
        )
        if last is None or last.state != "success":
            return None
        if (last.details or {}).get("source_fingerprint") != fingerprint:
            return None
        return Tally.repeat_of(last.records_read, last.rejected, last.progress, last.details)


def _leased(session: Session, lease: Lease) -> Ingestion:
    ingestion = session.scalar(select(Ingestion).where(lease.held()).with_for_update())
    if ingestion is None:
        raise LostLease(f"ingestion {lease.ingestion_id} is no longer this attempt's")
    return ingestion


def _end(ingestion: Ingestion, state: str, code: str | None, message: str | None) -> None:
    ingestion.state = state
    ingestion.completed_at = utcnow()
    ingestion.error_code = code
    # A message may quote the bundle (a manifest's value), which may hold U+0000: PostgreSQL
    # stores no text with it, and the run that failed could not be recorded as failed.
    ingestion.error_message = message and message.replace(NUL, "\\x00")
    ingestion.version += 1


def _set_tenant_state(session: Session, tenant_id: uuid.UUID, op_state: str) -> None:
    session.execute(
        update(Tenant)
        .where(Tenant.id == tenant_id, Tenant.op_state != op_state)
        .values(op_state=op_state, version=Tenant.version + 1)
    )


def _connector_source(session: Session, tenant_id: uuid.UUID) -> str | None:
    """The location of the oldest OneRoster connector installed in the tenant's cloud."""
    cloud_id = select(Tenant.cloud_id).where(Tenant.id == tenant_id).scalar_subquery()
    connectors = session.scalars(
        select(Actor)
        .where(Actor.cloud_id == cloud_id, Actor.type == "connector")
        .order_by(Actor.created_at, Actor.id)
    )
    for connector in connectors:
        source = connector.source or {}
        if source.get("kind") == "oneroster_csv" and source.get("location"):
            return str(source["location"])
    return None


class _Heartbeat:
    """Proves the worker alive while a long batch or the planning pass runs."""

    def __init__(self, database: Database, lease: Lease, every: float) -> None:
        self._database = database
        self._lease = lease
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True, name="interop-heartbeat")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _beat(self) -> None:
        failing = False  # since the last beat that went through: an outage is logged once
        while not self._stop.wait(self._every):
            try:
                # A beat waits for SQLite's write lock no longer than until the next one: one
                # waiting out the 30 s busy timeout held the worker that much longer (up to
                # the 10 s `stop` waits) past giving a run's end, or its shutdown, up.
                with self._database.transaction(lock_wait=self._every) as session:
                    session.execute(
                        update(Ingestion)
                        .where(self._lease.held())
                        # heartbeat_at is the workers' own: the ingestion as the API reads
                        # it (updated_at, and so its version) stays as it was.
                        .values(heartbeat_at=utcnow(), updated_at=Ingestion.updated_at)
                    )
            except Exception:  # the next beat retries; a long outage makes the lease stale
                if not failing:
                    log.warning(
                        "heartbeat of ingestion %s failed; retrying every %g s",
                        self._lease.ingestion_id,
                        self._every,
                    )
                failing = True
            else:
                failing = False
