"""Per-principal request rate limiting (off unless `INTEROP_RATE_LIMIT_PER_MINUTE` is set).

A token bucket per client id, in this process's memory: a server run with N worker processes
allows up to N times the rate. The bucket refills continuously at `per_minute / 60` requests a
second and holds at most `burst`; an empty bucket answers 429 with the seconds until the next
request would be allowed.
"""

import math
import threading
import time
from collections import OrderedDict

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


class RateLimiter:
    def __init__(self, per_minute: int, burst: int | None = None) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst or per_minute)
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def check(self, principal: str) -> None:
        """Take one request from the principal's bucket, or raise `RateLimited`."""
        if not self.enabled:
            return
        now = time.monotonic()
        with self._lock:
            tokens, updated = self._buckets.pop(principal, (self.burst, now))
            tokens = min(self.burst, tokens + (now - updated) * self.rate)
            if tokens < 1:
                self._buckets[principal] = (tokens, now)
                raise RateLimited(max(1, math.ceil((1 - tokens) / self.rate)))
            self._buckets[principal] = (tokens - 1, now)
            if len(self._buckets) > MAX_TRACKED_PRINCIPALS:
                self._buckets.popitem(last=False)
