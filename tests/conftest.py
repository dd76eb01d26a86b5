from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):
    """Plain static storage (no collectstatic in tests), media in a temp dir, locmem mail."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
    settings.SECURE_SSL_REDIRECT = False
    settings.SITE_URL = "http://testserver"


@pytest.fixture
def data_dir() -> Path:
    return DATA
