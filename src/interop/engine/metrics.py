"""Engine metrics read from the database at scrape time, so every API process reports the
same numbers whichever process ran the work: ingestions by state, queue depth, and the
throughput of the latest successful collection."""

from collections.abc import Callable, Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select, union_all
from sqlalchemy.exc import SQLAlchemyError

from interop.db import Database
from interop.ingestions.models import (
    ENDED_STATES,
    PENDING_STATES,
    Ingestion,
    IngestionStateTotal,
)

# Ingestions by state, whatever the length of the history: pending ones are few (at most one
# per tenant), counted from their rows through the (state, requested_at) index; ended ones
# are the history, read from the totals its triggers keep (IngestionStateTotal). One
# statement, so one snapshot on PostgreSQL too: a run ending between two reads would have
# been counted in both states, or in neither.
BY_STATE = union_all(
    select(Ingestion.state, func.count())
    .where(Ingestion.state.in_(PENDING_STATES))
    .group_by(Ingestion.state),
    select(IngestionStateTotal.state, IngestionStateTotal.total),
)

# Served by the index on (state, completed_at): history grows until an operator prunes it
# (`interop ingestions prune`), and a scrape must not scan all of it for one row.
LATEST_SUCCESS = (
    select(Ingestion.records_read, Ingestion.started_at, Ingestion.completed_at)
    .where(Ingestion.state == "success")
    .order_by(Ingestion.completed_at.desc())
    .limit(1)
)


class IngestionCollector(Collector):
    def __init__(self, database: Callable[[], Database | None]) -> None:
        self._database = database

    def collect(self) -> Iterator[GaugeMetricFamily]:
        database = self._database()
        if database is None:
            return
        try:
            with database.transaction(write=False) as session:
                by_state: dict[str, int] = dict(session.execute(BY_STATE).all())
                latest = session.execute(LATEST_SUCCESS).first()
        except SQLAlchemyError:
            return  # /metrics stays up when the database is not
        states = GaugeMetricFamily("interop_ingestions", "Ingestions by state", labels=["state"])
        # Every state, 0 when none: a series that comes and goes breaks rate() and alerts.
        for state in PENDING_STATES + ENDED_STATES:
            states.add_metric([state], by_state.get(state, 0))
        yield states
        queued = by_state.get("scheduled", 0)
        yield GaugeMetricFamily(
            "interop_ingestion_queue_depth", "Ingestions waiting for a worker", value=queued
        )
        rate = 0.0
        if latest is not None and latest.started_at and latest.completed_at:
            seconds = (latest.completed_at - latest.started_at).total_seconds()
            rate = latest.records_read / seconds if seconds > 0 else 0.0
        yield GaugeMetricFamily(
            "interop_ingestion_rows_per_second",
            "Rows read per second by the latest successful ingestion",
            value=rate,
        )
