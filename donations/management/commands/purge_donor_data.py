"""Remove donors' emails and private notes from campaigns that ended long enough ago."""

from __future__ import annotations

import datetime

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from campaigns.models import Campaign
from donations.durations import duration_argument as duration
from donations.services.privacy import donor_data_purge


class Command(BaseCommand):
    help = (
        "Remove donors' emails and private notes (and their copies in the change history) "
        "from every campaign completed, or past its end date, longer ago than --older-than. "
        "Amounts and public names stay. Idempotent; safe to run from cron."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            type=duration,
            required=True,
            help="The retention period: <number><unit>, unit m, h or d (e.g. 365d).",
        )
        parser.add_argument("--campaign", metavar="SLUG", help="Only this campaign.")

    def handle(self, *args, older_than: datetime.timedelta, campaign: str | None, **options):
        only = None
        if campaign:
            only = Campaign.objects.filter(slug=campaign).first()
            if only is None:
                raise CommandError(f"No campaign with the slug {campaign!r}.")
        results = donor_data_purge(older_than=older_than, now=timezone.now(), campaign=only)
        if only is not None and not results:
            self.stdout.write(
                f"{only.slug}: not ended longer ago than the retention period; nothing removed."
            )
            return
        removed = [result for result in results if result.anything]
        for result in removed:
            self.stdout.write(
                f"{result.campaign.slug}: removed {result.emails} emails and {result.notes} "
                f"private notes; cleared {result.history_entries} history entries and "
                f"{result.receipt_errors} receipt errors."
            )
        if not removed:
            self.stdout.write(f"Nothing to remove ({len(results)} ended campaigns checked).")
        else:
            self.stdout.write(f"Done: {len(removed)} of {len(results)} ended campaigns purged.")
