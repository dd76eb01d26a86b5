"""`totals_verify [--fix]`: recompute the running totals from the gifts and report any drift."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from campaigns.models import Campaign
from campaigns.services import campaign_pages_changed
from donations.services.totals import monthly_recount, totals_recount


class Command(BaseCommand):
    help = (
        "Recompute every campaign's raised total and gift count (per team member and "
        "source), its active monthly gifts and what they give a month, and each monthly "
        "gift's running total, from the rows, and report where the stored figures differ. "
        "--fix repairs them and says what it changed. Exits 1 when drift was found and not "
        "fixed."
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
        fixed = " (fixed)" if fix else ""
        drifts = totals_recount(campaign_ids=campaign_ids, fix=fix)
        for drift in drifts:
            member = f"member {drift.member_key}" if drift.member_key else "no member"
            where = f"campaign {drift.campaign_id}, {member}, {drift.source}"
            if drift.stored != drift.actual:
                self.stdout.write(
                    f"{where}: stored {drift.stored[0]} in {drift.stored[1]} gifts, actual "
                    f"{drift.actual[0]} in {drift.actual[1]} gifts{fixed}"
                )
            if drift.stored_monthly != drift.actual_monthly:
                self.stdout.write(
                    f"{where}: stored {drift.stored_monthly[1]} active monthly gifts giving "
                    f"{drift.stored_monthly[0]} a month, actual {drift.actual_monthly[1]} "
                    f"giving {drift.actual_monthly[0]}{fixed}"
                )
        monthly = monthly_recount(campaign_ids=campaign_ids, fix=fix)
        for drift in monthly:
            self.stdout.write(
                f"campaign {drift.campaign_id}, monthly gift {drift.monthly_gift_id}: stored "
                f"{drift.stored[0]} in {drift.stored[1]} months, actual {drift.actual[0]} in "
                f"{drift.actual[1]} months{fixed}"
            )
        drifted = {drift.campaign_id for drift in drifts} | {d.campaign_id for d in monthly}
        if fix:
            campaign_pages_changed(campaign_ids=drifted)
        count = len(drifts) + len(monthly)
        if not count:
            self.stdout.write("No drift: every total matches its gifts.")
        elif fix:
            self.stdout.write(f"{count} totals drifted and were set right.")
        else:
            raise CommandError(f"{count} totals drifted; run with --fix to repair them.")
