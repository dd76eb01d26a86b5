"""Organizers' pages outside the admin: the CSV export and the campaign report.

Who may see them is decided by permissions.may_see_donors: superusers, and the organizers
assigned to the campaign.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_safe

from campaigns.models import Campaign
from donations import permissions
from donations.selectors.reporting import campaign_report, export_csv_lines
from donations.services.reporting import export_log_record
from donations.throttle import campaign_surge


def _organizer_campaign(request: HttpRequest, slug: str) -> Campaign:
    if not permissions.may_see_some_donors(request.user):
        raise PermissionDenied
    campaign = get_object_or_404(Campaign, slug=slug)
    if not permissions.may_see_donors(user=request.user, campaign=campaign):
        raise PermissionDenied
    return campaign


@require_safe
@login_required
def campaign_export_csv(request: HttpRequest, slug: str) -> StreamingHttpResponse:
    campaign = _organizer_campaign(request, slug)
    export_log_record(user=request.user, campaign=campaign)
    response = StreamingHttpResponse(
        export_csv_lines(campaign=campaign), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="donations-{campaign.slug}.csv"'
    response["Cache-Control"] = "no-store"
    return response


@require_safe
@login_required
def campaign_report_page(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = _organizer_campaign(request, slug)
    context = {
        "campaign": campaign,
        "report": campaign_report(campaign=campaign),
        "surge": campaign_surge(campaign_id=campaign.pk),
    }
    return render(request, "donations/organize/report.html", context)
