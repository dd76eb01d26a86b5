"""A Redis cache backend that counts reads and writes: configured only by the bench.

`bench/tasks.py querycount` swaps it in for every cache alias while it requests the campaign
page in process, so "a hit costs at most 2 cache reads" is counted at Django's cache API,
whichever alias or helper the page code goes through.
"""

from __future__ import annotations

from collections import Counter

from config.cache import RedisCache

READS = ("get", "get_many", "has_key")
WRITES = ("set", "add", "set_many", "delete", "delete_many", "incr", "decr", "touch", "clear")
# Process-wide: the page may read through several aliases, each its own backend instance.
operations: Counter[str] = Counter()


def reset() -> None:
    operations.clear()


def reads() -> int:
    return sum(operations[name] for name in READS)


def writes() -> int:
    return sum(operations[name] for name in WRITES)


def _counted(name: str):
    def method(self, *args, **kwargs):
        operations[name] += 1
        return getattr(super(CountingRedisCache, self), name)(*args, **kwargs)

    method.__name__ = name
    return method


class CountingRedisCache(RedisCache):
    """Django's RedisCache, counting each call of the public read and write methods.

    `get_or_set` is BaseCache's, built on `get` (and `add` on a miss), so it counts as those.
    """


for _name in READS + WRITES:
    setattr(CountingRedisCache, _name, _counted(_name))
