"""Telling organizers when payments look stuck (run by `payments_check`, from a scheduler).

An alert is raised when a campaign had Stripe checkouts started but no webhook accepted for
an hour since (selectors/health.py), at most once per `repeat_after` for the same campaign:
each is kept as a PaymentAlert, and the task worker mails it to the campaign's organizers
(permissions.alert_recipients), retried by the sweep until the mail server takes it.
"""

from __future__ import annotations

import datetime
import logging

from django.conf import settings
from django.core.mail import send_mass_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from campaigns.models import Campaign
from config.tasks import enqueue_on_commit, task
from donations import permissions
from donations import stripe_gateway as gateway
from donations.models import PaymentAlert, WebhookDelivery, WebhookRejection
from donations.selectors.health import SilentCampaign, silent_campaigns
from donations.services.payments import HANDLED_EVENTS

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
    """Raise an alert for each campaign whose checkouts got no webhook for an hour, unless
    one was raised in the last `repeat_after`; each is mailed by a task once committed.
    Returns the alerts raised."""
    raised = []
    for silent in silent_campaigns(now=now):
        campaign = Campaign.objects.get(pk=silent.campaign_id)
        kind = PaymentAlert.Kind.WEBHOOK_SILENT
        recent = PaymentAlert.objects.filter(
            campaign=campaign, kind=kind, sent_at__gt=now - repeat_after
        )
        if recent.exists():
            continue
        recipients = permissions.alert_recipients(campaign)
        alert = PaymentAlert.objects.create(
            campaign=campaign, kind=kind, sent_at=now, recipients=len(recipients)
        )
        enqueue_on_commit(payment_alert_mail_task, alert.pk)
        logger.warning(
            "payment_alert kind=%s campaign=%s checkouts=%s recipients=%s",
            kind,
            campaign.pk,
            silent.checkouts,
            len(recipients),
        )
        raised.append(alert)
    return raised


def payment_alert_mail(*, alert_id: int, now: datetime.datetime) -> bool:
    """Mail a raised alert to its campaign's organizers, once; whether it went out now. An
    alert whose campaign has had a webhook since is marked mailed without mail: nothing is
    wrong any more. A mail server that refuses raises, so the task fails and is retried."""
    alert = PaymentAlert.objects.select_related("campaign").filter(pk=alert_id).first()
    if alert is None or alert.mailed_at is not None:
        return False
    campaign = alert.campaign
    still = silent_campaigns(now=now, campaigns=Campaign.objects.filter(pk=campaign.pk))
    if still:
        send_mass_mail(_alert_messages(still[0], campaign, permissions.alert_recipients(campaign)))
    PaymentAlert.objects.filter(pk=alert.pk, mailed_at__isnull=True).update(mailed_at=now)
    return bool(still)


@task()
def payment_alert_mail_task(alert_id: int) -> None:
    """The worker's side of `payment_alert_mail`."""
    payment_alert_mail(alert_id=alert_id, now=timezone.now())


def payment_alerts_unmailed(*, before: datetime.datetime, limit: int) -> list[int]:
    """Alerts raised before `before` (within a day) that no task has mailed yet."""
    unmailed = PaymentAlert.objects.filter(
        mailed_at__isnull=True,
        sent_at__lt=before,
        sent_at__gte=before - datetime.timedelta(days=1),
    )
    return list(unmailed.order_by("sent_at").values_list("pk", flat=True)[:limit])


def webhook_deliveries_prune(*, before: datetime.datetime) -> int:
    """Forget processed events and counts of refused deliveries older than `before`; returns
    how many events. An event still waiting is kept, however old: it is still to do."""
    old = WebhookDelivery.objects.filter(received_at__lt=before, processed_at__isnull=False)
    deleted, _by_model = old.delete()
    WebhookRejection.objects.filter(hour__lt=before).delete()
    return deleted


def webhook_endpoint_check() -> list[str]:
    """What is wrong with the Stripe webhook endpoint that sends to this site (SITE_URL plus
    the webhook's path), as warnings for the operator; none when it sends every event the
    site handles (the README's list), or in demo mode (no Stripe key).

    Stripe's Dashboard lets an endpoint be created with some events only, and a new release
    may handle one more: an event never sent is news never heard (a renewal the donor is
    never told of), with no error anywhere. Several endpoints with this URL count together.
    """
    if not settings.STRIPE_SECRET_KEY:
        return []
    url = f"{settings.SITE_URL}{reverse('donations:stripe-webhook')}"
    try:
        endpoints = gateway.list_webhook_endpoints()
    except gateway.GatewayError as error:
        return [f"Could not list the Stripe webhook endpoints to check them: {error}"]
    ours = [e for e in endpoints if e.url.rstrip("/") == url.rstrip("/")]
    if not ours:
        return [
            f"No Stripe webhook endpoint sends to {url}: create it in the Stripe Dashboard "
            "(Developers → Webhooks) with the events the README lists."
        ]
    enabled = [endpoint for endpoint in ours if endpoint.enabled]
    if not enabled:
        return [f"The Stripe webhook endpoint for {url} is disabled: enable it in the Dashboard."]
    missing = sorted(event for event in HANDLED_EVENTS if not any(e.sends(event) for e in enabled))
    if missing:
        return [
            f"The Stripe webhook endpoint for {url} does not send {', '.join(missing)}: add "
            "them in the Stripe Dashboard (Developers → Webhooks → the endpoint → Events)."
        ]
    return []
