"""Donor self-service: a donor's own gifts, reached by a signed link sent to their email.

The link carries the donor's email address signed with the site's key and a time, so it
cannot be forged and it expires (settings.DONOR_LINK_MAX_AGE); nothing is stored for it.
Anyone can ask for a fresh link by typing an email address: the answer is the same whether
or not that address ever gave, so the page reveals nothing; the email waits in an outbox
(`DonorLinkEmail`) for the receipts worker, so a mail server that is down changes nothing
on the page and loses no link. What a donor may change on
their own gifts is the public side only: the name shown, anonymity, hiding the amount and
the words of support. Each change is kept in the gift's history and shows on the campaign
page at once (the page version is bumped with it). A monthly gift's public side is changed
once for the gift and every month of it; and its donor may stop it: cancelled at Stripe now,
confirmed on the page and by email.
"""

from __future__ import annotations

import datetime
import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from config.tasks import enqueue_on_commit, task
from donations import permissions
from donations import stripe_gateway as gateway
from donations.donor_links import donor_link_url, link_days
from donations.models import (
    Donation,
    DonationChange,
    DonorLinkEmail,
    MonthlyGift,
    MonthlyGiftChange,
)
from donations.services.history import donation_change, monthly_gift_change
from donations.services.monthly import NOT_STOPPABLE, Stopped, monthly_gift_stop
from donations.services.receipts import (
    MAX_ATTEMPTS,
    RETRY_DELAYS,
    STALE_CLAIM_AFTER,
    SendReport,
    receipt_resend,
)

logger = logging.getLogger(__name__)

# The public side of a gift, which its donor may change.
DONOR_EDITABLE_FIELDS = ("giver_name", "anonymous", "hide_amount", "message")
NOT_YOUR_GIFT = _("This gift was not given with this link's email address.")
DONOR_REASON = "changed by the donor through their link"


def _stored_address(email: str) -> str | None:
    """The address stored on the newest gift given with `email` (permissions.link_reaches),
    or None when it never gave. The database only narrows the candidates: its case folding
    (PostgreSQL's UPPER makes a dotless i, U+0131, an I) would take one address for another."""
    candidates = (
        Donation.objects.filter(email__iexact=email.strip())
        .order_by("-created_at", "-pk")
        .only("email")
    )
    for gift in candidates.iterator():
        if permissions.link_reaches(email=email, gift=gift):
            return gift.email
    return None


def donor_link_queue(*, email: str, language: str) -> DonorLinkEmail | None:
    """Queue a fresh link for `email` if it ever gave; the queued email, or None.

    The link goes to the address stored on the gifts, never to the one typed (as Django's
    password reset does since CVE-2019-19844): only that mailbox gets a link to them. It is
    sent by a task (`donor_link_email_send`), so the caller answers the same
    whether or not the address gave, and whether or not the mail server answers.
    """
    stored = _stored_address(email) if email.strip() else None
    if stored is None:
        return None
    queued = DonorLinkEmail(email=stored, language=language, next_attempt_at=timezone.now())
    queued.full_clean()
    queued.save()
    enqueue_on_commit(donor_link_email_send_task, queued.pk)
    return queued


def donor_link_render(*, email: str, language: str) -> EmailMultiAlternatives:
    """The email carrying a fresh link for `email` (an address stored on gifts)."""
    with translation.override(language):
        context = {"link": donor_link_url(email=email), "days": link_days()}
        subject = " ".join(render_to_string("donations/email/manage_subject.txt", context).split())
        return EmailMultiAlternatives(
            subject=subject,
            body=render_to_string("donations/email/manage.txt", context),
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[email],
            headers={"Auto-Submitted": "auto-generated"},
        )


def donor_link_email_send(
    *, email_id: int, now: datetime.datetime
) -> tuple[DonorLinkEmail, bool] | None:
    """Send one queued link email if it is due, claiming it first: the email and whether it
    went out, or None when it was not due.

    As receipts are sent (services/receipts.py): a conditional UPDATE claims the email, so
    concurrent workers never send it twice; a failure is retried after the receipts'
    back-off (RETRY_DELAYS: the sweep enqueues it again once due), a claim older than
    STALE_CLAIM_AFTER is taken again. A sent email, or one that failed MAX_ATTEMPTS times,
    is deleted: the donor can ask again, and no address waits here longer than its sending.
    Call it outside a transaction.
    """
    due = _link_email_due(now)
    if not DonorLinkEmail.objects.filter(due, pk=email_id).update(
        claimed_at=now, attempts=F("attempts") + 1
    ):
        return None
    queued = DonorLinkEmail.objects.get(pk=email_id)
    try:
        donor_link_render(email=queued.email, language=queued.language).send()
    except Exception as error:  # any backend failure (SMTPException, OSError, ...) retries
        logger.warning("Donor link email %s failed: %r", queued.pk, error)
        if queued.attempts >= MAX_ATTEMPTS:
            DonorLinkEmail.objects.filter(pk=queued.pk).delete()
            return queued, False
        DonorLinkEmail.objects.filter(pk=queued.pk).update(
            claimed_at=None,
            next_attempt_at=now + RETRY_DELAYS[queued.attempts - 1],
            last_error=f"{type(error).__name__}: {error}"[:2000],
        )
        return queued, False
    DonorLinkEmail.objects.filter(pk=queued.pk).delete()
    return queued, True


@task()
def donor_link_email_send_task(email_id: int) -> None:
    """The worker's side of `donor_link_email_send`."""
    donor_link_email_send(email_id=email_id, now=timezone.now())


def donor_link_emails_due(*, now: datetime.datetime, limit: int) -> list[int]:
    """The ids of up to `limit` link emails due at `now`, oldest first."""
    due = DonorLinkEmail.objects.filter(_link_email_due(now)).order_by("next_attempt_at", "pk")
    return list(due.values_list("pk", flat=True)[:limit])


def donor_link_emails_send_due(*, now: datetime.datetime, limit: int = 100) -> SendReport:
    """Send up to `limit` due link emails one by one (`send_receipts` runs it)."""
    report = SendReport()
    for email_id in donor_link_emails_due(now=now, limit=limit):
        outcome = donor_link_email_send(email_id=email_id, now=now)
        if outcome is not None:
            queued, sent = outcome
            (report.sent if sent else report.failed).append(queued)
    return report


def _link_email_due(now: datetime.datetime) -> Q:
    return Q(claimed_at__isnull=True, next_attempt_at__lte=now) | Q(
        claimed_at__lte=now - STALE_CLAIM_AFTER
    )


def _own_gift(donation: Donation | MonthlyGift, email: str):
    if not permissions.link_reaches(email=email, gift=donation):
        raise PermissionDenied(NOT_YOUR_GIFT)
    return donation


def donation_update_by_donor(*, donation: Donation, email: str, values: dict) -> Donation:
    """The donor changes the public side of their own gift (DONOR_EDITABLE_FIELDS).

    Raises PermissionDenied when the gift was not given with `email`, ValueError for any
    other field. The change is kept in the gift's history and shows on the page at once.
    """
    unknown = set(values) - set(DONOR_EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"Not editable by a donor: {', '.join(sorted(unknown))}")
    with donation_change(
        donation, action=DonationChange.Action.DONOR_EDIT, reason=DONOR_REASON
    ) as change:
        donation = _own_gift(change.row, email)
        for field, value in values.items():
            setattr(donation, field, value.strip() if isinstance(value, str) else value)
    return donation


def donation_receipt_again(*, donation: Donation, email: str) -> None:
    """Send the donor their receipt again (queued as an organizer's resend would be)."""
    donation = _own_gift(donation, email)
    receipt = getattr(donation, "receipt", None)
    if receipt is None:
        raise ValidationError(_("This gift has no receipt to send."))
    receipt_resend(receipt=receipt, by=permissions.DonorLink(email))


def monthly_gift_update_by_donor(*, gift: MonthlyGift, email: str, values: dict) -> MonthlyGift:
    """The donor changes the public side of their monthly gift: the gift (what the giver
    list shows) and every month of it, each change in its history. Raises PermissionDenied
    when the gift was not given with `email`, ValueError for any other field."""
    unknown = set(values) - set(DONOR_EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"Not editable by a donor: {', '.join(sorted(unknown))}")
    cleaned = {
        key: value.strip() if isinstance(value, str) else value for key, value in values.items()
    }
    with monthly_gift_change(
        gift, action=MonthlyGiftChange.Action.DONOR_EDIT, reason=DONOR_REASON
    ) as change:
        gift = _own_gift(change.row, email)
        for field, value in cleaned.items():
            setattr(gift, field, value)
    with transaction.atomic():
        for month in Donation.objects.filter(monthly_gift=gift).order_by("pk"):
            donation_update_by_donor(donation=month, email=email, values=cleaned)
    return gift


def monthly_gift_stop_by_donor(*, gift: MonthlyGift, email: str) -> Stopped:
    """The donor stops their monthly gift: cancelled at Stripe now (nothing more is charged),
    kept in its history, and confirmed by email. Raises PermissionDenied when the gift was
    not given with `email`, ValidationError when it charges no more, GatewayError when
    Stripe cannot be told (the stop is kept as requested and retried by the worker)."""
    gift = _own_gift(gift, email)
    if not gift.may_stop:
        raise ValidationError(NOT_STOPPABLE)
    with gateway.page_request():  # the donor's page waits briefly; the worker retries
        return monthly_gift_stop(gift=gift, end=MonthlyGift.End.DONOR, reason=DONOR_REASON)
