"""One collection: make a tenant's repository equal to its connector's bundle, scoped.

Two passes over the bundle. Planning reads every file once to check its structure and index
the ids (for reference checks and scoping); nothing is written, so a bundle that cannot be
read leaves the repository untouched. Applying reads again and writes in batches: each batch
is one transaction (committed by a writer thread while the next batch is parsed) that also
adds its counts to the ingestion row, fenced by the attempt number, so a worker that lost
the ingestion to another can never commit. Rewriting a batch
is harmless (rows are compared by digest), which is what makes a takeover after a crash
produce exactly the repository a clean run would.
"""

import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, select, update
from sqlalchemy.orm import Session

from interop.connectors.bundle import Bundle
from interop.connectors.oneroster_csv import (
    QUOTED_CHARACTERS,
    SPECS,
    USERS,
    RowError,
    SourceRow,
    TopicSpec,
    iter_lines,
    iter_rows,
    quoted,
    reference_values,
)
from interop.db import Database, utcnow
from interop.engine import writes
from interop.engine.scope import BundleIndex, ScopingRules
from interop.ingestions.models import Ingestion
from interop.roster.models import topic_table

MAX_REPORTED_REJECTIONS = 100
# The states of an ingestion a worker holds; any other is an end (or the queue).
RUNNING_STATES = ("preparing", "executing")


class LostLease(Exception):
    """Another worker took the ingestion over; this one must stop without writing."""


class IngestionTimedOut(Exception):
    pass


class WorkerStopping(Exception):
    """The process is shutting down: stop between batches and hand the ingestion back."""


@dataclass
class Tally:
    """This attempt's view of the run: counts, rows read per file and the rejections."""

    records_read: int = 0
    rejected: int = 0
    progress: dict[str, int] = field(default_factory=dict)
    rejections: list[dict[str, Any]] = field(default_factory=list)
    withheld_deletions: dict[str, int] = field(default_factory=dict)
    fingerprint: str | None = None

    @classmethod
    def repeat_of(
        cls, records_read: int, rejected: int, progress: dict[str, int], details: dict[str, Any]
    ) -> "Tally":
        """What an earlier run of the same source and scoping found (nothing changes now)."""
        return cls(
            records_read=records_read,
            rejected=rejected,
            progress=dict(progress),
            rejections=list(details.get("rejected_rows", [])),
            withheld_deletions=dict(details.get("withheld_deletions", {})),
            fingerprint=details.get("source_fingerprint"),
        )

    def reject(self, file: str, line: int, sourced_id: str | None, message: str) -> None:
        self.rejected += 1
        if len(self.rejections) < MAX_REPORTED_REJECTIONS:
            if sourced_id is not None and len(sourced_id) > QUOTED_CHARACTERS:
                # No record has such an id (MAX_SOURCED_ID_LENGTH); a cell holds a megabyte.
                sourced_id = sourced_id[:QUOTED_CHARACTERS] + "…"
            self.rejections.append(
                {"file": file, "line": line, "sourced_id": sourced_id, "message": message}
            )

    def details(self) -> dict[str, Any]:
        return {
            "rejected_rows": self.rejections,
            "rejected_rows_omitted": self.rejected - len(self.rejections),
            "withheld_deletions": self.withheld_deletions,
            "source_fingerprint": self.fingerprint,
        }


@dataclass(frozen=True, slots=True)
class _Counts:
    records_read: int
    rejected: int
    progress: dict[str, int]


@dataclass
class Lease:
    """The ingestion as one attempt of one worker holds it."""

    ingestion_id: uuid.UUID
    tenant_id: uuid.UUID
    attempt: int
    started_at: datetime
    timeout_seconds: int

    def check_time(self) -> None:
        if self.seconds_left() < 0:
            raise IngestionTimedOut(f"the ingestion ran longer than {self.timeout_seconds} s")

    def seconds_left(self) -> float:
        return self.timeout_seconds - (utcnow() - self.started_at).total_seconds()

    def held(self) -> ColumnElement[bool]:
        """Whether the ingestion's row is still this attempt's: every write of the run is
        fenced by it. The attempt number alone is not enough: a worker that gives a stale
        ingestion up (past its time or attempts) ends it without a new attempt."""
        return and_(
            Ingestion.id == self.ingestion_id,
            Ingestion.attempt == self.attempt,
            Ingestion.state.in_(RUNNING_STATES),
        )


# As many ids as a batch of writes probes at once (INTEROP_INGESTION_BATCH_ROWS' default).
HELD_PROBE_IDS = 5_000
# A run that adds this many records to a topic gathers the table's statistics afterwards
# (PostgreSQL): below it, probing on stale ones costs the next run little (a batch reads
# the tenant's rows whole, and they are few).
REFRESH_STATISTICS_AFTER_ROWS = 10_000


def plan(bundle: Bundle, rules: ScopingRules, lease: Lease, database: Database) -> BundleIndex:
    """The planning pass: structure checks (a `BundleError` ends the run) and the index."""
    index = BundleIndex(rules)
    for spec in SPECS:
        index.known.setdefault(spec.topic, set())
        if not index.learns_from(spec.topic):
            # Only the file's structure is checked: enrollments and demographics are most
            # of a bundle's rows, and parsing them was most of this pass.
            for count, _ in enumerate(iter_lines(bundle, spec)):
                if count % 20_000 == 0:
                    lease.check_time()
            continue
        for count, item in enumerate(iter_rows(bundle, spec)):
            if count % 20_000 == 0:
                lease.check_time()
            if isinstance(item, SourceRow):
                if item.status == "active":
                    index.place(spec.topic, item)
            elif item[1].readable is not None:
                index.place(spec.topic, item[1].readable)
        index.close(spec.topic)
        unplaced = index.unplaced.get(spec.topic)
        if unplaced:  # before the next file: its rows may refer to these
            held = _held(database, lease.tenant_id, spec.topic, [r.sourced_id for r in unplaced])
            index.admit_held(spec.topic, held)
    return index


def _held(database: Database, tenant_id: uuid.UUID, topic: str, sourced_ids: list[str]) -> set[str]:
    """Which of these ids the tenant holds an active record for: the writes' own primary-key
    probe (an array parameter on PostgreSQL, not thousands of bound values), a few thousand
    ids at a time however many rows were rejected."""
    table = topic_table(topic)
    held: set[str] = set()
    with database.transaction(write=False) as session:
        for start in range(0, len(sourced_ids), HELD_PROBE_IDS):
            stored = writes.stored_digests(
                session, table, tenant_id, sourced_ids[start : start + HELD_PROBE_IDS]
            )
            held.update(sid for sid, (_, status) in stored.items() if status == "active")
    return held


class Collection:
    """The applying pass for one lease."""

    def __init__(
        self,
        database: Database,
        lease: Lease,
        index: BundleIndex,
        batch_rows: int,
        retain_deletes: bool,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> None:
        self.should_stop = should_stop
        self.database = database
        self.lease = lease
        self.index = index
        self.batch_rows = batch_rows
        self.retain_deletes = retain_deletes
        self.tally = Tally()
        self._earlier = _Counts(0, 0, {})
        self._writer: ThreadPoolExecutor
        self._pending: Future[None] | None = None
        self._fresh = False
        # The latest change stamped on the topic being written, stored or by this run.
        self._latest_change: datetime | None = None
        self._created_in_topic = 0  # by the writer thread; read once the topic is settled
        # Ids the topic's file lists out of the tenant's scope, kept only while deletions are
        # withheld (`_delete_missing`): a rollover withholds what the source dropped.
        self._out_of_scope: set[str] = set()
        # Users deleted for the scope while the bundle lacks users.csv: their demographics go
        # with them when it lacks demographics.csv too.
        self._users_out_of_scope: set[str] = set()

    def apply(self, bundle: Bundle) -> Tally:
        self._earlier = self._earlier_counts()
        # One writer thread: while it commits a batch, this thread parses the next one, so
        # the database and the parser work at the same time. At most one batch waits.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="collection-writer") as pool:
            self._writer = pool
            try:
                for spec in SPECS:
                    seen = self._upsert_topic(bundle, spec)
                    self._refresh_statistics_after_load(spec)
                    if not bundle.has(spec.file):
                        # `absent` in the manifest (or left out): the bundle says nothing
                        # about the topic, so nothing the source dropped is deleted (an empty
                        # file listed `bulk` is how a source says there are none); only what
                        # the tenant's scope no longer admits.
                        self._delete_stored_out_of_scope(bundle, spec)
                        continue
                    if not self._fresh:
                        # A first load stored only rows it saw, so nothing can be missing:
                        # reading every stored id back (1.1 s of a 40 s first run in a py-spy
                        # profile) is skipped.
                        self._delete_missing(spec, seen)
            finally:
                self._settle(raise_error=False)
        return self.tally

    def _upsert_topic(self, bundle: Bundle, spec: TopicSpec) -> set[str]:
        """Write the topic's rows in scope; return every id the source still vouches for."""
        seen: set[str] = set()
        deleting: set[str] = set()  # ids of the file's tobedeleted rows, to catch repeats
        batch: list[writes.StagedRow] = []
        self._latest_change = self._stored_latest_change(spec)
        self._fresh = self._latest_change is None
        self._created_in_topic = 0
        self._out_of_scope = set()
        self.tally.progress.setdefault(spec.file, 0)
        for item in iter_rows(bundle, spec):
            self.tally.records_read += 1
            self.tally.progress[spec.file] += 1
            row = self._accepted(spec, item, seen, deleting)
            if row is not None:
                # Encoded and digested here rather than by the writer: this thread waited
                # for the writer half the time, and the writer's own work is mostly waiting
                # for the database, without the GIL.
                batch.append(writes.StagedRow.of(row))
            if len(batch) >= self.batch_rows:
                self._submit(spec, batch)
                batch = []
        self._submit(spec, batch)
        self._settle()
        return seen

    def _accepted(
        self,
        spec: TopicSpec,
        item: SourceRow | tuple[int, RowError],
        seen: set[str],
        deleting: set[str],
    ) -> SourceRow | None:
        """The row if it is to be written; rejections are tallied. Scope is decided first: a
        row its values place out of scope is neither written, rejected nor kept (its stored
        record is deleted). A rejected row keeps its stored record (its id counts as seen): a
        typo in the export must not delete data.

        An id met again in the file, whatever either row's status, is a duplicate: the first
        row counts and the repeat is rejected. An active repeat keeps the record like any
        rejected row, so a file that lists an id both tobedeleted and active deletes nothing:
        the planning pass learned the active row, and rows referring to it are written."""
        if isinstance(item, tuple):
            line, error = item
            if error.readable is not None and self.index.excludes(spec.topic, error.readable):
                self._set_aside(error.sourced_id)
                return None
            if error.sourced_id:
                seen.add(error.sourced_id)
            self.tally.reject(spec.file, line, error.sourced_id, str(error))
            return None
        row = item
        if self.index.excludes(spec.topic, row):
            self._set_aside(row.sourced_id)
            return None
        if row.sourced_id in seen or row.sourced_id in deleting:
            if row.status != writes.TOMBSTONE:
                seen.add(row.sourced_id)
            self.tally.reject(spec.file, row.line, row.sourced_id, "duplicate sourcedId")
            return None
        if row.status == writes.TOMBSTONE:
            deleting.add(row.sourced_id)
            return None
        seen.add(row.sourced_id)
        dangling = self._dangling_reference(spec, row)
        if dangling is not None:
            self.tally.reject(spec.file, row.line, row.sourced_id, dangling)
            return None
        if not self.index.in_scope(spec.topic, row):
            seen.discard(row.sourced_id)
            self._set_aside(row.sourced_id)
            return None
        return row

    def _set_aside(self, sourced_id: str | None) -> None:
        """Note an id the file lists out of scope, when deletions are withheld."""
        if self.retain_deletes and sourced_id:
            self._out_of_scope.add(sourced_id)

    def _dangling_reference(self, spec: TopicSpec, row: SourceRow) -> str | None:
        for column, target, value in reference_values(spec, row):
            if value in self.index.known.get(target, ()):
                continue
            if value not in self.index.unknown_scope.get(target, ()):
                return f"{column} {quoted(value)} names no active record of {target}"
            # A rejected record the scoping could not place is still a record of the bundle:
            # a row in scope by its own values refers to it as it would without scoping (a
            # class of a selected school to its rejected course); a row whose scope hangs on
            # it has none.
            if not self.index.in_scope(spec.topic, row):
                return (
                    f"{column} {quoted(value)} names a rejected record of {target} of unknown scope"
                )
        return None

    def _stored_latest_change(self, spec: TopicSpec) -> datetime | None:
        """When the tenant's latest stored record of the topic changed, tombstones included
        (the last entry of its changes index); None when it holds none at all. Then every row
        of this run is new (its ids are unique, and a worker that lost the lease cannot
        commit), so batches need not look up what is stored."""
        table = topic_table(spec.topic)
        with self.database.transaction(write=False) as session:
            return session.execute(
                select(table.c.updated_at)
                .where(table.c.tenant_id == self.lease.tenant_id)
                .order_by(table.c.updated_at.desc())
                .limit(1)
            ).scalar_one_or_none()

    def _change_time(self) -> datetime:
        """The time to stamp the next write of the topic with: now, unless a change already
        stored or written by this run is as late (an earlier run's host whose clock ran
        ahead, or this clock stepped back), then just after it. A client reading changes
        continues after the latest one it saw (`changed_since`, or a cursor): a change
        stamped earlier than that, committed after it read, would never be listed to it."""
        now = utcnow()
        latest = self._latest_change
        if latest is not None and now <= latest:
            now = latest + timedelta(microseconds=1)
        self._latest_change = now
        return now

    def _submit(self, spec: TopicSpec, rows: list[writes.StagedRow]) -> None:
        """Hand a batch to the writer once the previous one is committed (its error, if
        any, surfaces here)."""
        self._settle()
        self.lease.check_time()
        if self.should_stop():
            raise WorkerStopping
        if rows:
            self._pending = self._writer.submit(self._write, spec, rows, self._counts())
        else:
            self._write(spec, rows, self._counts())

    def _settle(self, raise_error: bool = True) -> None:
        """Wait for the batch in flight."""
        pending, self._pending = self._pending, None
        if pending is None:
            return
        try:
            pending.result()
        except BaseException:
            if raise_error:
                raise

    def _earlier_counts(self) -> _Counts:
        """What earlier attempts of this ingestion recorded with their last commit (nothing on
        a first run)."""
        with self.database.transaction(write=False) as session:
            row = session.execute(
                select(Ingestion.records_read, Ingestion.rejected, Ingestion.progress).where(
                    Ingestion.id == self.lease.ingestion_id
                )
            ).one()
        return _Counts(row.records_read, row.rejected, dict(row.progress or {}))

    def _counts(self) -> _Counts:
        """The tally as of the batch just formed: what its commit records.

        A rerun (after a takeover or a hand-back) reads the bundle again from its first row,
        while what earlier attempts wrote stays written and stays counted in created, updated
        and deleted (the rows are unchanged now, so the rerun counts nothing for them). So the
        read counts go on from the furthest point an attempt reached rather than from 0: the
        stats describe the rows the tenant's data went through, once each."""
        progress = dict(self.tally.progress)
        for file, rows in self._earlier.progress.items():
            progress[file] = max(progress.get(file, 0), rows)
        rejected = max(self.tally.rejected, self._earlier.rejected)
        return _Counts(sum(progress.values()), rejected, progress)

    def _write(self, spec: TopicSpec, rows: list[writes.StagedRow], counts: _Counts) -> None:
        table = topic_table(spec.topic)
        now = self._change_time()
        with self.database.transaction() as session:
            created, updated = writes.upsert(
                session, table, self.lease.tenant_id, rows, now, fresh=self._fresh
            )
            self._record(session, counts, created=created, updated=updated)
        self._created_in_topic += created

    def _refresh_statistics_after_load(self, spec: TopicSpec) -> None:
        """After a run that added many records to a topic, the table's statistics are
        gathered again: the batches of the tenant's next run probe for their ids by them, and
        the roster's reads are planned by them (`writes.refresh_statistics`). PostgreSQL's
        only: on SQLite the transaction would take the write lock for nothing."""
        if self.database.is_sqlite or self._created_in_topic < REFRESH_STATISTICS_AFTER_ROWS:
            return
        with self.database.transaction() as session:
            writes.refresh_statistics(session, topic_table(spec.topic))

    def _delete_missing(self, spec: TopicSpec, seen: set[str]) -> None:
        table = topic_table(spec.topic)
        with self.database.transaction(write=False) as session:
            stored = session.execute(
                select(table.c.sourced_id).where(
                    table.c.tenant_id == self.lease.tenant_id, table.c.status == "active"
                )
            ).scalars()
            missing = [sourced_id for sourced_id in stored if sourced_id not in seen]
        if self.retain_deletes:
            # A rollover withholds the deletion of records the source no longer lists. One
            # it lists out of the tenant's scope is deleted all the same: the scoping says
            # what the tenant may see, whatever the time of year.
            withheld = len(missing)
            missing = [sourced_id for sourced_id in missing if sourced_id in self._out_of_scope]
            if withheld > len(missing):
                self.tally.withheld_deletions[spec.topic] = withheld - len(missing)
        self._tombstone(spec, missing)

    def _delete_stored_out_of_scope(self, bundle: Bundle, spec: TopicSpec) -> None:
        """Delete the tenant's stored records of a topic the bundle lacks that its scope no
        longer admits, judged by their stored values (`BundleIndex.excludes_stored`)."""
        if self.index.everything or self._fresh:
            return
        table = topic_table(spec.topic)
        judge_by_user = spec.topic == "demographics" and not bundle.has(USERS.file)
        with self.database.transaction(write=False) as session:
            stored = session.execute(
                select(table.c.sourced_id, table.c.fields).where(
                    table.c.tenant_id == self.lease.tenant_id, table.c.status == "active"
                )
            )
            out = [
                sourced_id
                for sourced_id, fields in stored
                if (
                    sourced_id in self._users_out_of_scope
                    if judge_by_user
                    else self.index.excludes_stored(
                        spec.topic, SourceRow(0, sourced_id, "active", None, fields)
                    )
                )
            ]
        if spec.topic == "users":
            self._users_out_of_scope = set(out)
        self._tombstone(spec, out)

    def _tombstone(self, spec: TopicSpec, sourced_ids: list[str]) -> None:
        table = topic_table(spec.topic)
        for start in range(0, len(sourced_ids), self.batch_rows):
            chunk = sourced_ids[start : start + self.batch_rows]
            with self.database.transaction() as session:
                deleted = writes.tombstone(
                    session, table, self.lease.tenant_id, chunk, self._change_time()
                )
                self._record(session, self._counts(), deleted=deleted)

    def _record(
        self,
        session: Session,
        counts: _Counts,
        created: int = 0,
        updated: int = 0,
        deleted: int = 0,
    ) -> None:
        """Add this transaction's counts to the ingestion, or roll it back if the lease is
        gone (the UPDATE matches no row once another attempt holds the ingestion, or another
        worker ended it)."""
        result = session.execute(
            update(Ingestion)
            .where(self.lease.held())
            .values(
                created=Ingestion.created + created,
                updated=Ingestion.updated + updated,
                deleted=Ingestion.deleted + deleted,
                records_read=counts.records_read,
                rejected=counts.rejected,
                progress=counts.progress,
                heartbeat_at=utcnow(),
                # Its counts and progress change what the ingestion reads as: so does its ETag.
                version=Ingestion.version + 1,
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise LostLease(f"ingestion {self.lease.ingestion_id} is no longer this attempt's")
