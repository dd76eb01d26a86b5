"""The public campaign pages. They compose campaign content with the donations selectors."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from campaigns.images import share_picture_png
from campaigns.models import Campaign, ShareNetwork, TeamMember
from campaigns.pages import campaign_page, campaign_tag
from campaigns.qr import qr_data_uri
from campaigns.selectors import (
    campaign_share_total,
    campaign_updates,
    campaign_updates_preview,
)
from campaigns.services import share_record
from campaigns.sharing import network_url, share_links
from config.clients import client_ip, client_key
from config.httpcache import SITE_TAG, public_page, tag_response
from donations import permissions
from donations.models import CASH_BATCH_MAX_ROWS
from donations.selectors.givers import (
    GIVERS_PER_PAGE,
    RECENT_GIVERS,
    InvalidCursorError,
    campaign_totals,
    giver_page,
    raised_by_campaign,
)
from money import quantize

CAMPAIGNS_PER_PAGE = 12


def _tagged_render(
    request: HttpRequest, template: str, context: dict, campaign: Campaign
) -> HttpResponse:
    """A page of one campaign, tagged with it so that its changes purge it, and dated with
    its last change."""
    return tag_response(
        render(request, template, context),
        [campaign_tag(campaign.id)],
        changed=campaign.updated_at,
    )


def _campaign_for(request: HttpRequest, slug: str) -> Campaign:
    # Only an organizer signed in sees a draft. Without a session cookie nobody is signed in:
    # not asking keeps the public page free of a session read, and so of `Vary: Cookie`.
    signed_in = settings.SESSION_COOKIE_NAME in request.COOKIES
    viewer = request.user if signed_in else AnonymousUser()
    return get_object_or_404(permissions.visible_campaigns(viewer).with_counted_shares(), slug=slug)


def _giver_page(
    campaign: Campaign, request: HttpRequest, member: TeamMember | None = None, *, size: int
):
    try:
        return giver_page(
            campaign=campaign, member=member, after=request.GET.get("after"), size=size
        )
    except InvalidCursorError as error:
        raise Http404("Unknown page of givers.") from error


def _page_context(request: HttpRequest, campaign: Campaign, member: TeamMember | None) -> dict:
    """Everything the campaign page shows, evaluated here so the template runs no query."""
    now = timezone.now()
    today = timezone.localdate(now)
    totals = campaign_totals(campaign=campaign)
    zero = quantize(Decimal(0), campaign.currency)
    members = list(campaign.team_members.on_team())
    for team_member in members:
        team_member.raised = totals.raised_by_member.get(team_member.id, zero)
    language = translation.get_language() or settings.LANGUAGE_CODE
    return {
        **_share_meta(campaign, member, language),
        "campaign": campaign,
        "sections": list(campaign.sections.all()),
        "members": members,
        "member": member,
        "totals": totals,
        "share_total": campaign_share_total(campaign=campaign),
        "share_links": share_links(
            campaign_slug=campaign.slug, member_slug=member.slug if member else None
        ),
        "updates": campaign_updates_preview(campaign=campaign),
        # The most recent gifts; a member page's older gifts come a full page at a time.
        "page": _giver_page(
            campaign,
            request,
            member,
            size=GIVERS_PER_PAGE if request.GET.get("after") else RECENT_GIVERS,
        ),
        "closed_on": campaign.closed_on(today),
        "open_for_giving": campaign.is_open_for_giving(today),
        "days_left": campaign.days_left(today),
        "now": now,
    }


def _share_meta(campaign: Campaign, member: TeamMember | None, language: str) -> dict:
    """What link previews read: the canonical address, the picture, the locales."""
    if campaign.hero_image:
        image = _absolute(campaign.hero_image.url)
    else:
        # The picture is the same in every language: one address, one copy in every cache.
        with translation.override(settings.LANGUAGE_CODE):
            picture = reverse("campaigns:share-picture", kwargs={"slug": campaign.slug})
        image = _absolute(picture)
    locales = {code: babel.replace("-", "_") for code, babel in settings.BABEL_LOCALES.items()}
    return {
        "page_url": _absolute((member or campaign).get_absolute_url()),
        "share_image": image,
        "og_locale": locales.get(language, locales[settings.LANGUAGE_CODE]),
        "og_alternate_locales": [babel for code, babel in locales.items() if code != language],
    }


@require_safe
@public_page
def campaign_index(request: HttpRequest) -> HttpResponse:
    """Live campaigns first, then every completed one, a page of cards at a time."""
    page = Paginator(Campaign.objects.for_index(), CAMPAIGNS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    campaigns = list(page.object_list)
    raised = raised_by_campaign(campaign_ids=[campaign.id for campaign in campaigns])
    for campaign in campaigns:
        campaign.raised = raised.get(campaign.id, quantize(Decimal(0), campaign.currency))
    response = render(request, "campaigns/index.html", {"campaigns": campaigns, "page": page})
    # Purged with any campaign it lists (a gift moves its total), and with `site`.
    return tag_response(
        response,
        [SITE_TAG, *(campaign_tag(c.id) for c in campaigns)],
        changed=max((c.updated_at for c in campaigns), default=None),
    )


@require_safe
@campaign_page
def campaign_share_picture(request: HttpRequest, slug: str) -> HttpResponse:
    """The PNG link previews show for a campaign without a photo (1200 x 630)."""
    campaign = get_object_or_404(Campaign.objects.public(), slug=slug)
    response = HttpResponse(share_picture_png(campaign), content_type="image/png")
    return tag_response(response, [campaign_tag(campaign.id)], changed=campaign.updated_at)


@require_safe
@campaign_page(stored=True)
def campaign_detail(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = _campaign_for(request, slug)
    context = _page_context(request, campaign, None)
    return _tagged_render(request, "campaigns/detail.html", context, campaign)


@require_safe
@campaign_page(stored=True)
def campaign_member(request: HttpRequest, slug: str, member_slug: str) -> HttpResponse:
    campaign = _campaign_for(request, slug)
    member = get_object_or_404(campaign.team_members, slug=member_slug)
    if member.retired:  # printed flyers still lead here: their readers get the campaign
        return redirect(campaign)
    context = _page_context(request, campaign, member)
    return _tagged_render(request, "campaigns/detail.html", context, campaign)


@require_safe
@campaign_page
def campaign_tally(request: HttpRequest, slug: str) -> HttpResponse:
    """A blank cash tally sheet to print; its columns follow the volunteer cash form."""
    campaign = _campaign_for(request, slug)
    context = {
        "campaign": campaign,
        "members": list(campaign.team_members.on_team()),
        "rows": range(1, CASH_BATCH_MAX_ROWS + 1),  # one sheet fits one batch entry form
    }
    return _tagged_render(request, "campaigns/tally.html", context, campaign)


@require_safe
@campaign_page(stored=True)
def campaign_givers(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = _campaign_for(request, slug)
    context = {
        "campaign": campaign,
        "page": _giver_page(campaign, request, size=GIVERS_PER_PAGE),
        "now": timezone.now(),
    }
    return _tagged_render(request, "campaigns/givers.html", context, campaign)


class ShareRedirect(HttpResponseRedirect):
    """A redirect that may also open the visitor's mail program (mailto:)."""

    allowed_schemes = ["https", "mailto"]


def _absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


@require_safe
@never_cache
def campaign_share(request: HttpRequest, slug: str, network: str) -> HttpResponse:
    """Count a share (GET only; HEAD counts nothing), then send the visitor to the network."""
    if network not in ShareNetwork.values:
        raise Http404("Unknown network.")
    campaign = get_object_or_404(Campaign.objects.public(), slug=slug)
    page = campaign
    if member_slug := request.GET.get("member"):
        page = get_object_or_404(campaign.team_members, slug=member_slug)
    if request.method == "GET":
        share_record(
            campaign=campaign,
            network=network,
            client=client_key(client_ip(request)),
            user_agent=request.headers.get("User-Agent", ""),
        )
    language = translation.get_language()
    target = network_url(
        network,
        url=_absolute(page.get_absolute_url()),
        title=campaign.localized("title", language),
        summary=campaign.localized("summary", language),
    )
    return ShareRedirect(target)


@require_safe
@campaign_page
def campaign_updates_page(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = _campaign_for(request, slug)
    context = {"campaign": campaign, "updates": campaign_updates(campaign=campaign)}
    return _tagged_render(request, "campaigns/updates.html", context, campaign)


def _flyer(request: HttpRequest, campaign: Campaign, member: TeamMember | None) -> HttpResponse:
    page_url = _absolute((member or campaign).get_absolute_url())
    context = {
        "campaign": campaign,
        "member": member,
        "totals": campaign_totals(campaign=campaign),
        "page_url": page_url,
        "qr_code": qr_data_uri(page_url),
    }
    return _tagged_render(request, "campaigns/flyer.html", context, campaign)


@require_safe
@campaign_page
def campaign_flyer(request: HttpRequest, slug: str) -> HttpResponse:
    """A one-page printable flyer whose QR code leads to the campaign page."""
    return _flyer(request, _campaign_for(request, slug), None)


@require_safe
@campaign_page
def campaign_member_flyer(request: HttpRequest, slug: str, member_slug: str) -> HttpResponse:
    """A team member's flyer: its QR code leads to the member's view of the campaign."""
    campaign = _campaign_for(request, slug)
    member = get_object_or_404(campaign.team_members.on_team(), slug=member_slug)
    return _flyer(request, campaign, member)
