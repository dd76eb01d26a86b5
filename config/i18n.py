"""Languages (CONTRACTS.md): the Babel locale that formats money and dates in the active
language, and the language of a page's path.

English pages keep their paths; the public pages and the donate flow also answer in Spanish
under /es/ (i18n_patterns). Every other page has one path for all languages and follows the
language cookie, then Accept-Language (config.middleware.LanguageMiddleware).
"""

import functools
from urllib.parse import unquote

from babel import Locale
from django.conf import settings
from django.urls import NoReverseMatch, Resolver404, resolve, reverse
from django.utils import translation


@functools.cache
def _parsed(identifier: str) -> Locale:
    return Locale.parse(identifier)


def babel_locale() -> Locale:
    """settings.BABEL_LOCALES for the active language (en → en_US, es → es_US by default).

    A parsed Locale, kept per identifier: Babel accepts one wherever it takes a locale name,
    and parsing the name again in every call cost a fifth of a giver list's formatting.
    """
    language = (translation.get_language() or settings.LANGUAGE_CODE).split("-")[0]
    return _parsed(settings.BABEL_LOCALES.get(language, settings.BABEL_LOCALES["en"]))


def language_paths(view_name: str, args: tuple = (), kwargs: dict | None = None) -> dict[str, str]:
    """The path of one page in each language, for a page served under i18n_patterns (its
    path differs from language to language); {} for any other page (one path for all)."""
    paths = {}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            try:
                paths[code] = reverse(view_name, args=args, kwargs=kwargs)
            except NoReverseMatch:
                return {}
    return paths if len(set(paths.values())) == len(paths) else {}


def language_paths_of(path: str) -> dict[str, str]:
    """`language_paths` of the page at `path` (English unprefixed, or another language's
    prefix), as a `next` parameter gives it; {} when no page of ours answers there."""
    language = translation.get_language_from_path(path) or settings.LANGUAGE_CODE
    with translation.override(language):
        try:
            match = resolve(unquote(path))
        except Resolver404:
            return {}
    return language_paths(match.view_name, match.args, match.kwargs)


def prefixed_languages() -> list[str]:
    """The languages whose pages live under a path prefix: all but the default one."""
    return [code for code, _name in settings.LANGUAGES if code != settings.LANGUAGE_CODE]


def path_decides_language(path_info: str) -> bool:
    """Whether the path alone decides the language: it carries a language prefix, or it is
    the English path of a page that also answers under a prefix (a public page, or the donate
    flow). One URL resolution, under the first other language."""
    if translation.get_language_from_path(path_info):
        return True
    other = next(iter(prefixed_languages()), None)
    if other is None:
        return False
    with translation.override(other):
        try:
            resolve(f"/{other}{path_info}")
        except Resolver404:
            return False
    return True
