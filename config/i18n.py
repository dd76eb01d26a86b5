"""The Babel locale that formats money and dates in the active language (CONTRACTS.md)."""

from django.conf import settings
from django.utils import translation


def babel_locale() -> str:
    """settings.BABEL_LOCALES for the active language (en → en_US, es → es_US by default)."""
    language = (translation.get_language() or settings.LANGUAGE_CODE).split("-")[0]
    return settings.BABEL_LOCALES.get(language, settings.BABEL_LOCALES["en"])
