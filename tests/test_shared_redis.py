"""Tests share the machine: no test names a Redis database or flushes one (`make test` once
cleared database 5 of a shared server). A test that needs Redis takes `redis_space`
(tests/conftest.py): the database TEST_REDIS_URL names, under a key prefix of its own that it
deletes afterwards."""

import re
from pathlib import Path

THIS_FILE = Path(__file__).resolve()
TESTS = THIS_FILE.parent
FORBIDDEN = {
    # redis://host:6379/5, rediss://..., f"redis://127.0.0.1:{port}/9"
    "names a Redis database": re.compile(r"rediss?://[^\s\"'`]*/\d"),
    "selects a Redis database": re.compile(r"\bdb\s*=\s*\d"),
    "flushes a Redis database": re.compile(r"flush_?(db|all)", re.IGNORECASE),
}


def offences(text: str) -> list[str]:
    return [what for what, pattern in FORBIDDEN.items() if pattern.search(text)]


def test_the_check_finds_what_it_forbids():
    assert offences('REDIS_URL = "redis://127.0.0.1:6379/5"') == ["names a Redis database"]
    assert offences('f"redis://127.0.0.1:{port}/9"') == ["names a Redis database"]
    assert offences("redis.Redis(host='localhost', db=5)") == ["selects a Redis database"]
    assert offences("redis.Redis.from_url(url).flushdb()") == ["flushes a Redis database"]
    assert offences("client.execute_command('FLUSHALL')") == ["flushes a Redis database"]
    assert offences('CACHE_URL="redis://127.0.0.1:6379"') == []


def test_no_test_names_a_redis_database_or_flushes_one():
    found = [
        f"{path.relative_to(TESTS.parent)}:{number}: {what}: {line.strip()}"
        for path in sorted(TESTS.rglob("*.py"))
        if path != THIS_FILE
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        for what in offences(line)
    ]

    assert found == []
