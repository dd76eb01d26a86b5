"""`campaigns_complete_ended`: complete live campaigns past their end date, and stop their
monthly gifts (cancelled at Stripe at the end of the month paid, each donor told)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from donations.services.monthly import campaigns_complete_ended


class Command(BaseCommand):
    help = (
        "Mark every live campaign past its end date completed and stop the monthly gifts of "
        "completed campaigns (each ends with its paid month; donors are emailed). Idempotent; "
        "exits 1 when Stripe could not be told about a monthly gift (run it again later)."
    )

    def handle(self, *args, **options) -> None:
        completions = campaigns_complete_ended(today=timezone.localdate())
        failed = []
        for completion in completions:
            campaign = completion.campaign
            if completion.completed_now:
                self.stdout.write(f"{campaign.slug}: completed on {campaign.completed_on}")
            if completion.monthly.stopped:
                self.stdout.write(
                    f"{campaign.slug}: {completion.monthly.stopped} monthly gifts stopped"
                )
            failed += completion.monthly.failed
        self.stdout.write(
            f"Campaigns completed now: {sum(c.completed_now for c in completions)}; "
            f"monthly gifts stopped: {sum(c.monthly.stopped for c in completions)}."
        )
        if failed:
            raise CommandError(
                f"Stripe did not answer for {len(failed)} monthly gifts ({', '.join(failed)}); "
                "they keep charging until this command runs again successfully."
            )
