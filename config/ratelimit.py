"""Counting attempts in fixed time windows: in the shared cache, or in this process when the
cache does not answer.

The count of a window is one cache key: `cache.add` creates it at zero (atomic, only if
missing) and `cache.incr` counts (atomic in Redis and, under a lock, in the local-memory
cache), so a limit holds across processes and machines. When the cache fails (Redis down or
not answering within its socket timeout), the attempt is counted in a per-process table
instead and an error is logged: giving and signing in go on, each process enforcing the limit
on its own share of the traffic. For a few seconds after a failure the process does not ask
the cache again, so a cache that hangs costs one timeout now and then, not one per count.

Used by the checkout limits (donations/throttle.py) and the password-reset limits
(config/accounts.py).
"""

from __future__ import annotations

import datetime
import logging
import threading
import time

from django.core.cache import cache

logger = logging.getLogger("solidaria.ratelimit")

# A window's key outlives the window a little, so it cannot expire between `add` and `incr`.
KEY_GRACE_SECONDS = 60
# The per-process table forgets ended windows once it holds this many keys.
LOCAL_PRUNE_AT = 10_000
# After a cache failure, count in this process for this long before asking the cache again.
CACHE_RETRY_SECONDS = 5.0


def window_start(seconds: int, now: datetime.datetime) -> int:
    timestamp = int(now.timestamp())
    return timestamp - timestamp % seconds


def window_end(seconds: int, now: datetime.datetime) -> int:
    """Seconds from `now` until the window of `seconds` holding it ends."""
    return window_start(seconds, now) + seconds - int(now.timestamp())


class LocalWindows:
    """The fallback: window counts in this process's memory, thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, tuple[int, int]] = {}  # key → (expires at, count)

    def incr(self, key: str, *, expires_at: int, now: int) -> int:
        with self._lock:
            if len(self._counts) >= LOCAL_PRUNE_AT:
                self._counts = {k: v for k, v in self._counts.items() if v[0] > now}
            expiry, count = self._counts.get(key, (expires_at, 0))
            if expiry <= now:
                expiry, count = expires_at, 0
            self._counts[key] = (expiry, count + 1)
            return count + 1

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()


local_windows = LocalWindows()
_cache_down_until = 0.0  # time.monotonic() before which the cache is not asked


def _count_in_cache(cache_key: str, timeout: int) -> int:
    cache.add(cache_key, 0, timeout=timeout)
    try:
        return cache.incr(cache_key)
    except ValueError:  # evicted between add and incr: this attempt starts the count again
        cache.add(cache_key, 1, timeout=timeout)
        return 1


def count_in_window(*, key: str, seconds: int, now: datetime.datetime) -> int:
    """Add one to the fixed window of `seconds` holding `now`; return the window's count.

    Never raises for a cache failure: the count then comes from this process alone.
    """
    global _cache_down_until
    start = window_start(seconds, now)
    cache_key = f"throttle:{key}:{seconds}:{start}"
    if time.monotonic() >= _cache_down_until:
        try:
            return _count_in_cache(cache_key, seconds + KEY_GRACE_SECONDS)
        except Exception:  # any cache failure (refused, timed out): count here instead
            _cache_down_until = time.monotonic() + CACHE_RETRY_SECONDS
            logger.error(
                "Rate limits counted in this process only for %ss: the cache did not answer.",
                CACHE_RETRY_SECONDS,
                exc_info=True,
            )
    return local_windows.incr(cache_key, expires_at=start + seconds, now=int(now.timestamp()))


def reset_local_state() -> None:
    """Forget per-process counts and any cache failure (tests, and a process that forks)."""
    global _cache_down_until
    _cache_down_until = 0.0
    local_windows.clear()
