"""Telling organizers when payments look stuck (run by `payments_check`, from a scheduler).

An alert is sent when a campaign had Stripe checkouts started but no webhook accepted for an
hour since (selectors/health.py), to its organizers (permissions.alert_recipients), at most
once per `repeat_after` for the same campaign: each sent alert is kept as a PaymentAlert.
"""

from __future__ import annotations

import datetime
import logging

from django.conf import settings
from django.core.mail import send_mass_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from campaigns.models import Campaign
from donations import permissions
from donations.models import PaymentAlert, WebhookDelivery, WebhookRejection
from donations.selectors.health import SilentCampaign, silent_campaigns

logger = logging.getLogger(__name__)


def _alert_messages(silent: SilentCampaign, campaign: Campaign, recipients: list) -> list:
    context = {
        "campaign": campaign,
        "silent": silent,
        "webhook_url": f"{settings.SITE_URL}{reverse('donations:stripe-webhook')}",
        "panel_url": f"{settings.SITE_URL}{reverse('admin:donations_payment_health')}",
    }
    with translation.override(settings.LANGUAGE_CODE):
        subject = render_to_string("donations/email/webhook_silent_subject.txt", context).strip()
        body = render_to_string("donations/email/webhook_silent.txt", context)
    return [(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email]) for user in recipients]


def payment_alerts_send(
    *, now: datetime.datetime, repeat_after: datetime.timedelta
) -> list[PaymentAlert]:
    """Email the organizers of each campaign whose checkouts got no webhook for an hour,
    unless they were told in the last `repeat_after`. Returns the alerts sent."""
    sent = []
    for silent in silent_campaigns(now=now):
        campaign = Campaign.objects.get(pk=silent.campaign_id)
        kind = PaymentAlert.Kind.WEBHOOK_SILENT
        recent = PaymentAlert.objects.filter(
            campaign=campaign, kind=kind, sent_at__gt=now - repeat_after
        )
        if recent.exists():
            continue
        recipients = permissions.alert_recipients(campaign)
        # Sent first: if the mail server refuses, nothing is kept and the next run tries again.
        send_mass_mail(_alert_messages(silent, campaign, recipients))
        alert = PaymentAlert.objects.create(
            campaign=campaign, kind=kind, sent_at=now, recipients=len(recipients)
        )
        logger.warning(
            "payment_alert kind=%s campaign=%s checkouts=%s recipients=%s",
            kind,
            campaign.pk,
            silent.checkouts,
            len(recipients),
        )
        sent.append(alert)
    return sent


def webhook_deliveries_prune(*, before: datetime.datetime) -> int:
    """Forget processed events and counts of refused deliveries older than `before`; returns
    how many events. An event still waiting is kept, however old: it is still to do."""
    old = WebhookDelivery.objects.filter(received_at__lt=before, processed_at__isnull=False)
    deleted, _by_model = old.delete()
    WebhookRejection.objects.filter(hour__lt=before).delete()
    return deleted
