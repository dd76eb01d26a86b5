"""Django's Redis cache, keeping one redis client per connection pool.

Django's RedisCacheClient builds a new `redis.Redis` object for every cache call (its
`get_client`), and redis-py 5+ sets up a command-callback table and an event dispatcher in
each: measured in process, a fifth of a cached campaign page's cost (bench/, docs/
performance.md). A client is only a front for its pool, and redis-py's clients are safe to
share, so one per pool is kept and reused. Django already keeps one cache object per thread,
so nothing new is shared between threads. Everything else (pools, timeouts, serializer,
what a call does when Redis is down) is Django's.
"""

from __future__ import annotations

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient


class ReusedClientRedisCacheClient(RedisCacheClient):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, object] = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class RedisCache(DjangoRedisCache):
    """CACHE_URL=redis://...: Django's RedisCache with ReusedClientRedisCacheClient."""

    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = ReusedClientRedisCacheClient
