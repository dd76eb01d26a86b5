"""Check that Stripe's webhooks arrive; email organizers when they do not (run it hourly).
Warns the operator (stderr and the log) when the webhook endpoint lacks an event we handle."""

from __future__ import annotations

import logging

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from donations.durations import duration_argument as duration
from donations.services.health import (
    payment_alerts_send,
    webhook_deliveries_prune,
    webhook_endpoint_check,
)

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Email a campaign's organizers when checkouts were started but no Stripe webhook "
        "arrived for an hour since (at most once per --repeat-after), and forget webhook "
        "deliveries older than --keep; warn when the Stripe webhook endpoint lacks an event "
        "the site handles. Idempotent; safe to run from cron."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--repeat-after", type=duration, default=duration("24h"))
        parser.add_argument("--keep", type=duration, default=duration("90d"))

    def handle(self, *args, repeat_after, keep, **options) -> None:
        for warning in webhook_endpoint_check():
            logger.warning("webhook_endpoint %s", warning)
            self.stderr.write(self.style.WARNING(f"Warning: {warning}"))
        now = timezone.now()
        alerts = payment_alerts_send(now=now, repeat_after=repeat_after)
        for alert in alerts:
            self.stdout.write(
                f"alert sent for {alert.campaign.slug} to {alert.recipients} people: "
                "checkouts without webhooks"
            )
        pruned = webhook_deliveries_prune(before=now - keep)
        self.stdout.write(f"{len(alerts)} alerts sent; {pruned} old webhook deliveries removed.")
