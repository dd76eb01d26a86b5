"""Formatting for templates: money, counts and dates in the active language, via Babel.

These tags format values they are given; they never query the database.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from babel.dates import format_date, format_datetime, format_timedelta
from django import template
from django.conf import settings
from django.utils import timezone, translation
from django.utils.html import format_html

import money
from campaigns.fields import variant_name, variant_widths
from campaigns.models import LocalizedText, TranslatedContent
from config.i18n import babel_locale

register = template.Library()


@register.simple_tag
def money_format(amount: Decimal, currency: str) -> str:
    """`{% money_format amount "USD" %}` → $1,234.50 (en) or $1,234.50 (es_US)."""
    return money.format_money(amount, currency, babel_locale())


@register.filter
def number(value: int | Decimal) -> str:
    """A count with the locale's thousands separators."""
    return money.format_number(value, babel_locale())


@register.filter
def long_date(value: datetime.date | datetime.datetime) -> str:
    if isinstance(value, datetime.datetime):
        value = timezone.localtime(value).date()
    return format_date(value, format="long", locale=babel_locale())


@register.filter
def date_time(value: datetime.datetime) -> str:
    return format_datetime(
        timezone.localtime(value),
        format="medium",
        tzinfo=timezone.get_current_timezone(),
        locale=babel_locale(),
    )


@register.filter
def iso_datetime(value: datetime.datetime) -> str:
    """A valid HTML `datetime` value: local time to the second (HTML allows at most 3 decimals)."""
    return timezone.localtime(value).replace(microsecond=0).isoformat()


@register.simple_tag
def time_ago(value: datetime.datetime, now: datetime.datetime) -> str:
    """'3 days ago' / 'hace 3 días', measured against the `now` the view passed in."""
    return format_timedelta(value - now, add_direction=True, threshold=1.1, locale=babel_locale())


@register.filter
def localized(content: TranslatedContent, field: str) -> LocalizedText:
    """`{{ campaign|localized:"title" }}`: the field in the page's language, or the original."""
    return content.localized(field, translation.get_language())


@register.filter
def lang_attr(text: LocalizedText) -> str:
    """` lang="en"` on an element whose text is the original shown in place of a translation."""
    if isinstance(text, LocalizedText) and text.fallback:
        return format_html(' lang="{}"', text.lang)
    return ""


@register.filter
def srcset(image, width: int | None) -> str:
    """`srcset` for an uploaded image of `width` pixels: its smaller copies and itself."""
    if not image:
        return ""
    sources = [
        f"{image.storage.url(variant_name(image.name, size))} {size}w"
        for size in variant_widths(width)
    ]
    sources.append(f"{image.url} {width}w" if width else image.url)
    return ", ".join(sources)


@register.filter
def percent_of(amount: Decimal, goal: Decimal) -> int:
    """Whole percent of the goal reached, rounded down (may pass 100)."""
    if not goal:
        return 0
    return int(amount * 100 // goal)


@register.filter
def absolute(path: str) -> str:
    """An address on this site, made absolute with SITE_URL (for link previews)."""
    if path.startswith(("http://", "https://")):
        return path
    return f"{settings.SITE_URL}{path}"


@register.simple_tag
def money_short(amount: Decimal, currency: str) -> str:
    """`{% money_short 25 "USD" %}` → $25 (no decimals for a whole amount)."""
    return money.format_money_short(amount, currency, babel_locale())
