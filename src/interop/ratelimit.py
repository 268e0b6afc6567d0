"""Per-principal request rate limiting (off unless `INTEROP_RATE_LIMIT_PER_MINUTE` is set).

A token bucket per client id. It refills continuously at `per_minute / 60` requests a second
and holds at most `burst`; an empty bucket answers 429 with the seconds until the next request
would be allowed. On SQLite, served by one process, the buckets live in its memory; on
PostgreSQL they live in the database, so that every process of every machine draws on the
same bucket (one statement a request, only while limiting is on).
"""

import math
import threading
import time
from collections import OrderedDict
from typing import Any, cast

from sqlalchemy import Boolean, Float, String, Table, bindparam, case, func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.sql.dml import ReturningInsert

from interop.config import Settings
from interop.db import Base, Database
from interop.errors import InteropError

# Idle buckets are forgotten beyond this many principals (the least recently seen first): a
# full bucket and a forgotten one behave the same, so this only bounds memory.
MAX_TRACKED_PRINCIPALS = 100_000


class RateLimited(InteropError):
    def __init__(self, retry_after: int) -> None:
        super().__init__(
            "rate_limited",
            f"too many requests for these credentials; retry in {retry_after} s",
            {"retry_after": retry_after},
        )
        self.retry_after = retry_after


class RateLimitBucket(Base):
    """A principal's bucket as PostgreSQL keeps it (SharedRateLimiter)."""

    __tablename__ = "rate_limit_buckets"

    client_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    # Seconds since the epoch on the database's clock: the servers' clocks may differ.
    refilled_at: Mapped[float] = mapped_column(Float)
    # Whether the last request was let through (the statement reports it back).
    allowed: Mapped[bool] = mapped_column(Boolean)


class RateLimiter:
    def __init__(self, per_minute: int, burst: int | None = None) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst or per_minute)
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def check(self, principal: str, session: Session) -> None:
        """Take one request from the principal's bucket, or raise `RateLimited` (`session`,
        the request's read session, is for the buckets kept in the database)."""
        if not self.enabled:
            return
        now = time.monotonic()
        with self._lock:
            tokens, updated = self._buckets.pop(principal, (self.burst, now))
            tokens = min(self.burst, tokens + (now - updated) * self.rate)
            if tokens < 1:
                self._buckets[principal] = (tokens, now)
                raise RateLimited(self._retry_after(tokens))
            self._buckets[principal] = (tokens - 1, now)
            if len(self._buckets) > MAX_TRACKED_PRINCIPALS:
                self._buckets.popitem(last=False)

    def _retry_after(self, tokens: float) -> int:
        return max(1, math.ceil((1 - tokens) / self.rate))


def _take_one() -> ReturningInsert[Any]:
    """One atomic statement that takes a request from a principal's bucket, whichever process
    runs it: a new principal starts with a full bucket less this request; an existing one is
    refilled for the time since (on the database's clock) and gives a token if it has one."""
    table = cast(Table, RateLimitBucket.__table__)
    buckets = table.c
    now = func.extract("epoch", func.statement_timestamp())
    burst, rate = bindparam("burst", type_=Float), bindparam("rate", type_=Float)
    refilled = func.least(burst, buckets.tokens + (now - buckets.refilled_at) * rate)
    new = insert(table).values(
        client_id=bindparam("client_id"), tokens=burst - 1, refilled_at=now, allowed=True
    )
    return new.on_conflict_do_update(
        index_elements=[buckets.client_id],
        set_={
            "allowed": refilled >= 1,
            "tokens": refilled - case((refilled >= 1, 1.0), else_=0.0),
            "refilled_at": now,
        },
    ).returning(buckets.allowed, buckets.tokens)


# One statement, atomic alone: it may run on a read session, which PostgreSQL runs in
# autocommit (the test suite refuses any other write there; this option lets it through).
ATOMIC_ALONE = "interop_atomic_alone"
TAKE_ONE = _take_one().execution_options(**{ATOMIC_ALONE: True})


class SharedRateLimiter(RateLimiter):
    """The buckets in the database (PostgreSQL), for servers of several processes or
    machines: in each process's memory, N processes allowed N times the rate."""

    def check(self, principal: str, session: Session) -> None:
        """Take one request from the principal's bucket, or raise `RateLimited`, on `session`:
        the request's own read session, so that a request never waits for a second pooled
        connection while holding one (under load every connection was held that way, and
        requests failed on pool timeouts). Blocks on a round trip: call it from a thread."""
        if not self.enabled:
            return
        parameters = {"client_id": principal, "burst": self.burst, "rate": self.rate}
        # The session's connection, past the ORM's statement handling, which would take this
        # for an ORM bulk insert (0.9 ms of CPU a request more, in-process).
        allowed, tokens = session.connection().execute(TAKE_ONE, parameters).one()
        if not allowed:
            raise RateLimited(self._retry_after(tokens))


def rate_limiter_for(settings: Settings, database: Database) -> RateLimiter:
    """In this process's memory on SQLite (one process serves it), else in the database."""
    if database.is_sqlite:
        return RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst)
    return SharedRateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst)
