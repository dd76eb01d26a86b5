"""`totals_verify [--fix]`: recompute the running totals from the gifts and report any drift."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from campaigns.models import Campaign
from campaigns.pagecache import page_version_bump
from donations.services.totals import totals_recount


class Command(BaseCommand):
    help = (
        "Recompute every campaign's raised total and gift count (per team member and "
        "source) from the gifts and report where the running totals differ. --fix repairs "
        "them. Exits 1 when drift was found and not fixed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--fix", action="store_true", help="Set drifted totals right.")
        parser.add_argument("--campaign", help="Only this campaign (its slug).")

    def handle(self, *args, fix: bool, campaign: str | None, **options) -> None:
        campaign_ids = None
        if campaign:
            found = Campaign.objects.filter(slug=campaign).values_list("pk", flat=True).first()
            if found is None:
                raise CommandError(f"No campaign with the slug {campaign!r}.")
            campaign_ids = [found]
        drifts = totals_recount(campaign_ids=campaign_ids, fix=fix)
        for drift in drifts:
            member = f"member {drift.member_key}" if drift.member_key else "no member"
            self.stdout.write(
                f"campaign {drift.campaign_id}, {member}, {drift.source}: stored "
                f"{drift.stored[0]} in {drift.stored[1]} gifts, actual {drift.actual[0]} in "
                f"{drift.actual[1]} gifts" + (" (fixed)" if fix else "")
            )
        for campaign_id in sorted({drift.campaign_id for drift in drifts} if fix else set()):
            page_version_bump(campaign_id)
        if not drifts:
            self.stdout.write("No drift: every total matches its gifts.")
        elif not fix:
            raise CommandError(f"{len(drifts)} totals drifted; run with --fix to repair them.")
