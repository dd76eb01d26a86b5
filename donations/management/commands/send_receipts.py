"""Send the receipts and donors' link emails that are due now, in this process, then exit."""

from __future__ import annotations

import warnings

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from donations.services.donors import donor_link_emails_send_due
from donations.services.receipts import receipt_send_due

LOOP_DEPRECATED = (
    "send_receipts --loop is deprecated and will be removed in the next release: receipts "
    "are sent by the task worker. Run `manage.py db_worker` instead (this runs it now)."
)


class Command(BaseCommand):
    help = (
        "Send every receipt and donor link email that is due now, then exit (the task worker "
        "does the same as they come)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--loop", action="store_true", help="Deprecated: runs db_worker.")
        parser.add_argument("--interval", type=float, default=None, help="Deprecated.")
        parser.add_argument(
            "--limit", type=int, default=1000, help="Emails of each kind to send at most."
        )

    def handle(self, *args, loop: bool, interval: float | None, limit: int, **options):
        if loop:
            warnings.warn(LOOP_DEPRECATED, DeprecationWarning, stacklevel=1)
            self.stderr.write(LOOP_DEPRECATED)
            call_command("db_worker", "--no-reload", stdout=self.stdout, stderr=self.stderr)
            return
        report = receipt_send_due(now=timezone.now(), limit=limit)
        for receipt in report.sent:
            self.stdout.write(f"sent {receipt.pk} for donation {receipt.donation_id}")
        for receipt in report.failed:
            self.stderr.write(
                f"failed {receipt.pk} for donation {receipt.donation_id} "
                f"(attempt {receipt.attempts}): {receipt.last_error}"
            )
        if report.sent or report.failed:
            self.stdout.write(f"{len(report.sent)} sent, {len(report.failed)} failed.")
        links = donor_link_emails_send_due(now=timezone.now(), limit=limit)
        for queued in links.failed:
            self.stderr.write(f"failed donor link email {queued.pk} (attempt {queued.attempts})")
        if links.sent or links.failed:
            self.stdout.write(f"{len(links.sent) + len(links.failed)} donor link emails handled.")
