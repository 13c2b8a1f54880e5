"""Rate limits per caller: a token bucket for each, kept in this process.

Each caller (an API token, a signed-in user) may send `burst` requests at once and
`per_minute` requests a minute on average; past that a request is refused with the
seconds until the next one would be allowed (HTTP 429 with ``Retry-After``). Buckets are
per process: behind a load balancer, each replica counts on its own.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

from searchapp.errors import RateLimitedError

MAX_BUCKETS = 100_000  # forget idle callers past this many (memory stays bounded)


@dataclass(frozen=True, slots=True)
class RateLimit:
    per_minute: int = 600
    burst: int = 60

    @property
    def off(self) -> bool:
        return self.per_minute <= 0


class RateLimiter:
    def __init__(self, limit: RateLimit) -> None:
        self.limit = limit
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill)
        self._lock = threading.Lock()

    def check(self, key: str, *, now: float | None = None) -> None:
        """Take one request from `key`'s bucket.

        Raises:
            RateLimitedError: the bucket is empty; `retry_after` is in seconds.
        """
        if self.limit.off:
            return
        now = time.monotonic() if now is None else now
        rate = self.limit.per_minute / 60.0
        capacity = float(max(1, self.limit.burst))
        with self._lock:
            tokens, last = self._buckets.get(key, (capacity, now))
            tokens = min(capacity, tokens + (now - last) * rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                wait = (1.0 - tokens) / rate
                raise RateLimitedError(
                    f"too many requests: this caller may send {self.limit.per_minute} a minute "
                    f"(bursts of {self.limit.burst}); retry in {math.ceil(wait)} s",
                    retry_after=wait,
                )
            if len(self._buckets) >= MAX_BUCKETS and key not in self._buckets:
                self._buckets.clear()
            self._buckets[key] = (tokens - 1.0, now)
