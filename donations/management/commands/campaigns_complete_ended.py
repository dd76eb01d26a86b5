"""`campaigns_complete_ended`: complete live campaigns past their end date, and stop their
monthly gifts (cancelled at Stripe at the end of the month paid, each donor told) through
the task worker."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.utils import timezone

from donations.services.monthly import campaigns_complete_ended


class Command(BaseCommand):
    help = (
        "Mark every live campaign past its end date completed and stop the monthly gifts of "
        "completed campaigns (each ends with its paid month; donors are emailed), through the "
        "task worker. Idempotent."
    )

    def handle(self, *args, **options) -> None:
        completions = campaigns_complete_ended(today=timezone.localdate())
        for completion in completions:
            campaign = completion.campaign
            if completion.completed_now:
                self.stdout.write(f"{campaign.slug}: completed on {campaign.completed_on}")
            if completion.monthly_to_stop:
                self.stdout.write(
                    f"{campaign.slug}: {completion.monthly_to_stop} monthly gifts to stop"
                )
        self.stdout.write(
            f"Campaigns completed now: {sum(c.completed_now for c in completions)}; "
            f"monthly gifts to stop: {sum(c.monthly_to_stop for c in completions)} (the task "
            "worker tells Stripe, and retries while Stripe does not answer)."
        )
