"""Organizers' reports and exports: each export is logged before any row leaves the server."""

from __future__ import annotations

from campaigns.models import Campaign
from donations.models import ExportLog


def export_log_record(*, user, campaign: Campaign) -> ExportLog:
    """Log who exported which campaign's donations, and when. Call before streaming rows."""
    entry = ExportLog(user=user, campaign=campaign)
    entry.full_clean()
    entry.save()
    return entry
