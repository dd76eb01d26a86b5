"""Re-feed recent Checkout Sessions through the recording logic (repairs missed webhooks)."""

from __future__ import annotations

import datetime

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from donations.durations import duration_argument as duration
from donations.services.online import demo_mode
from donations.services.reconcile import donations_reconcile
from donations.stripe_gateway import GatewayError

DEMO_MODE = "No STRIPE_SECRET_KEY: the site runs in demo mode and there is no Stripe to ask."


class Command(BaseCommand):
    help = (
        "Re-feed the Checkout Sessions and paid invoices created in the last --since (default "
        "72h) through the webhook's recording logic, apply the state of every monthly gift's "
        "subscription, and fill in missing settlement details. Idempotent."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--since",
            type=duration,
            default=duration("72h"),
            help="How far back to look: <number><unit>, unit m, h or d (default 72h).",
        )

    def handle(self, *args, since: datetime.timedelta, **options) -> None:
        if demo_mode():
            raise CommandError(DEMO_MODE)
        start = timezone.now() - since
        try:
            report = donations_reconcile(since=start)
        except GatewayError as error:
            raise CommandError(f"Stripe did not answer: {error}") from error
        for change in report.changes:
            if change.old_status != change.new_status:
                self.stdout.write(
                    f"donation {change.donation_id}: {change.old_status} → {change.new_status}"
                )
            if change.settlement_filled:
                self.stdout.write(f"settlement filled for {change.donation_id}")
            if change.refunded_after != change.refunded_before:
                self.stdout.write(
                    f"donation {change.donation_id}: refunded "
                    f"{change.refunded_before} → {change.refunded_after}"
                )
        for month in report.months_recorded:
            self.stdout.write(
                f"monthly gift {month.monthly_gift_id}: invoice {month.invoice_id} recorded as "
                f"donation {month.donation_id} ({month.status})"
            )
        for change in report.monthly_changes:
            self.stdout.write(
                f"monthly gift {change.monthly_gift_id}: {change.old_status} → {change.new_status}"
            )
        self.stdout.write(
            f"Paid invoices checked: {report.invoices_seen}; months recorded: "
            f"{len(report.months_recorded)}; monthly gifts changed: {len(report.monthly_changes)}."
        )
        self.stdout.write(
            f"Checked {report.sessions_seen} Checkout Sessions since "
            f"{timezone.localtime(start):%Y-%m-%d %H:%M %Z} ({report.sessions_ours} ours); "
            f"gifts changed: {len(report.changes)}."
        )
        self.stdout.write(
            f"Undelivered Stripe events (last 30 days): {report.events_undelivered}; "
            f"recorded now: {report.events_recorded}."
        )
