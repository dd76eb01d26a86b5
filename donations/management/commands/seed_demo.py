import datetime

from django.core.management.base import BaseCommand
from django.utils import timezone

from campaigns.demo import demo_campaigns_load
from donations.services.demo import demo_givers_load, demo_rates_ensure

SEED_GIVERS = 40
# A few seed givers made to show every case the giver list handles.
SEED_OVERRIDES = {
    2: {"currency": "EUR"},
    5: {"anonymous": True},
    9: {"currency": "MXN", "offline": True},
    13: {"hide_amount": True},
    17: {"anonymous": True, "offline": True},
    21: {"currency": "EUR", "offline": False},
    26: {"currency": "MXN"},
    33: {"anonymous": True},
    38: {"offline": True},
}


def _days(start: datetime.date, end: datetime.date) -> list[datetime.date]:
    return [start + datetime.timedelta(days=n) for n in range((end - start).days + 1)]


class Command(BaseCommand):
    help = "Load the demo campaigns, their givers and the rates they need. Idempotent."

    def add_arguments(self, parser):
        parser.add_argument(
            "--givers",
            type=int,
            default=0,
            help="Give the live demo campaign N extra synthetic givers (for benchmarks).",
        )

    def handle(self, *args, givers: int, **options):
        now = timezone.now()
        today = timezone.localdate(now)
        seed, live = demo_campaigns_load(today=today)
        rates = demo_rates_ensure(days=_days(seed.launched_on, seed.completed_on))
        rates += demo_rates_ensure(days=_days(today - datetime.timedelta(days=30), today))

        tz = timezone.get_current_timezone()
        seed_start = datetime.datetime.combine(seed.launched_on, datetime.time(9), tz)
        seed_end = datetime.datetime.combine(seed.completed_on, datetime.time(18), tz)
        added = demo_givers_load(
            campaign=seed,
            count=SEED_GIVERS,
            start=seed_start,
            end=seed_end,
            prefix="seed",
            overrides=SEED_OVERRIDES,
        )
        live_start = now - datetime.timedelta(days=14)
        added += demo_givers_load(campaign=live, count=12, start=live_start, end=now, prefix="live")
        if givers:
            rates += demo_rates_ensure(days=_days(today - datetime.timedelta(days=372), today))
            added += demo_givers_load(
                campaign=live,
                count=givers,
                start=now - datetime.timedelta(days=365),
                end=live_start,
                prefix="bulk",
            )
        self.stdout.write(
            f"Demo ready: {seed.get_absolute_url()} and {live.get_absolute_url()} "
            f"({added} givers and {rates} rates added)."
        )
