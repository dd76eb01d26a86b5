"""Donors' signed links: the email they gave with, signed with the site's key and a time.

Nothing is stored for a link: it cannot be forged without SECRET_KEY, and it expires after
settings.DONOR_LINK_MAX_AGE. Receipts carry one; anybody can ask for a fresh one by email.
"""

from __future__ import annotations

import string
import zlib

from django.conf import settings
from django.core import signing
from django.urls import reverse

LINK_SALT = "donations.donor-link"


class DonorLinkError(Exception):
    """A link that is not ours (tampered) or that has expired."""

    def __init__(self, *, expired: bool):
        self.expired = expired
        super().__init__("expired" if expired else "invalid")


# Only ASCII letters are folded: mail servers treat those alike in practice, while Unicode
# case folding (Python's lower(), PostgreSQL's UPPER) also merges addresses that are not one
# mailbox: a dotless i (U+0131) with i, the Kelvin sign (U+212A) with k, a long s with s.
ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def normal_email(email: str) -> str:
    """A donor's address as their identity: trimmed, ASCII letters in lower case, nothing else
    folded (so no two mailboxes share one)."""
    return email.strip().translate(ASCII_LOWER)


def same_address(first: str, second: str) -> bool:
    return normal_email(first) == normal_email(second)


def donor_link_token(*, email: str) -> str:
    """The token of a donor's link: their email, signed and timed."""
    return signing.TimestampSigner(salt=LINK_SALT).sign_object({"email": normal_email(email)})


def donor_link_url(*, email: str) -> str:
    token = donor_link_token(email=email)
    return f"{settings.SITE_URL}{reverse('donations:manage', kwargs={'token': token})}"


def donor_link_email(*, token: str) -> str:
    """The email a link was made for. Raises DonorLinkError (expired or tampered)."""
    try:
        payload = signing.TimestampSigner(salt=LINK_SALT).unsign_object(
            token, max_age=settings.DONOR_LINK_MAX_AGE
        )
    except signing.SignatureExpired as error:
        raise DonorLinkError(expired=True) from error
    except signing.BadSignature as error:
        raise DonorLinkError(expired=False) from error
    except (ValueError, RecursionError, zlib.error) as error:  # signed, but not our JSON
        raise DonorLinkError(expired=False) from error
    if not isinstance(payload, dict) or not isinstance(payload.get("email"), str):
        raise DonorLinkError(expired=False)
    return payload["email"]


def link_days() -> int:
    return max(1, settings.DONOR_LINK_MAX_AGE // (24 * 60 * 60))
