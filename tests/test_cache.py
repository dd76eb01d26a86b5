"""config/cache.py: Django's Redis cache with one redis client per connection pool."""

import pytest
import redis

from config.cache import RedisCache
from tests.test_settings import run_manage


@pytest.fixture
def shared_cache(redis_space):
    """The site's Redis cache on this test's own keys in TEST_REDIS_URL's database."""
    return redis_space.cache(socket_timeout=1)


def test_calls_reuse_one_client_and_still_read_and_write(shared_cache, redis_space):
    shared_cache.set("page-version:walk", "v1", 60)
    shared_cache.add("page-version:walk", "v2", 60)  # already there: unchanged

    assert shared_cache.get_many(["page-version:walk", "missing"]) == {"page-version:walk": "v1"}
    assert shared_cache.add("counter", 1)
    assert shared_cache.incr("counter") == 2
    client = shared_cache._cache.get_client()
    assert shared_cache._cache.get_client(write=True) is client
    assert client.connection_pool.connection_kwargs["socket_timeout"] == 1
    assert len(redis_space.keys()) == 2  # both under this test's prefix


def test_a_cache_that_cannot_be_reached_still_raises_at_once():
    cache = RedisCache("redis://127.0.0.1:1", {"OPTIONS": {"socket_connect_timeout": 0.25}})

    for _attempt in range(2):  # the reused client does not hide the failure the second time
        with pytest.raises(redis.ConnectionError):
            cache.get("page-version:walk")


def test_a_redis_cache_url_selects_this_backend():
    result = run_manage(
        "shell", "-c", "from django.conf import settings; print(settings.CACHES['default'])",
        DEBUG="true", CACHE_URL="redis://127.0.0.1:6379",
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert "'BACKEND': 'config.cache.RedisCache'" in result.stdout
    assert "'socket_timeout': 0.25" in result.stdout


def test_a_key_prefix_in_the_cache_url_prefixes_every_key():
    result = run_manage(
        "shell", "-c", "from django.core.cache import cache; print(cache.make_key('walk'))",
        DEBUG="true", CACHE_URL="redis://127.0.0.1:6379?key_prefix=site-one",
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "site-one:1:walk"
