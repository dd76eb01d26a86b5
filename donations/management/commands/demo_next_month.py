"""`demo_next_month`: demo mode only, charge the next month of every active demo monthly gift."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from donations.services.demo import demo_next_month
from donations.services.online import demo_mode

REAL_PAYMENTS = (
    "STRIPE_SECRET_KEY is set: this site takes real payments, and Stripe charges monthly "
    "gifts itself. demo_next_month only plays Stripe's part in demo mode."
)


class Command(BaseCommand):
    help = (
        "Demo mode only: charge the next month of every active demo monthly gift, as Stripe "
        "would at renewal, through the same recording code (each month a counted gift)."
    )

    def handle(self, *args, **options) -> None:
        if not demo_mode():
            raise CommandError(REAL_PAYMENTS)
        result = demo_next_month(now=timezone.now())
        for month in result.charged:
            counted = "counted" if month.status == "succeeded" else f"not counted ({month.status})"
            self.stdout.write(
                f"monthly gift {month.monthly_gift_id}: charged {month.amount} {month.currency}, "
                f"{counted}"
            )
        for gift in result.ended:
            self.stdout.write(f"monthly gift {gift.pk}: {gift.get_status_display().lower()}")
        self.stdout.write(
            f"Demo month: {len(result.charged)} monthly gifts charged, {len(result.ended)} ended."
        )
