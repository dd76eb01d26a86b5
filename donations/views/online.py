"""Online giving: the donate form, the return from Checkout and the demo checkout.

The thank-you page's link carries only the Checkout session id, which travels through
browser history and Stripe's redirect. So the page shows the gift's amount and the giver's
email (masked) only to the browser session that started the gift, and only for
`permissions.THANKS_DETAILS_FOR` after it started; anyone else with the link sees the outcome alone.
"""

from __future__ import annotations

import re
import uuid

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from campaigns.models import Campaign
from campaigns.sharing import share_links
from config.clients import client_ip
from donations import permissions, throttle
from donations.forms.online import DonateForm
from donations.models import Donation
from donations.selectors.online import resumable_gift
from donations.services import online
from donations.stripe_gateway import GatewayError

# The session remembers the giver's last started gift, to fill the form in again if the
# payment is declined or Checkout is left (Stripe's cancel_url ends in ?resume=1).
RESUME_KEY = "donations:last-gift"
# Stripe's session ids (cs_test_…, cs_live_…) and our demo ones (demo_ + URL-safe token): an
# id of any other shape is no session of ours and never reaches the database.
SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,255}")
GIFTS_STARTED_SESSION_KEY = "gifts_started"
GIFTS_REMEMBERED = 10


def _remember_gift(request: HttpRequest, donation: Donation) -> None:
    """This browser started the gift: its thank-you page may show the details for a while."""
    now = timezone.now().timestamp()
    started = {
        gift_id: at
        for gift_id, at in request.session.get(GIFTS_STARTED_SESSION_KEY, {}).items()
        if permissions.may_see_gift_details(started_at=at, now=now)
    }
    started[str(donation.pk)] = now
    newest = sorted(started.items(), key=lambda item: item[1])[-GIFTS_REMEMBERED:]
    request.session[GIFTS_STARTED_SESSION_KEY] = dict(newest)


def _started_here(request: HttpRequest, donation: Donation) -> bool:
    at = request.session.get(GIFTS_STARTED_SESSION_KEY, {}).get(str(donation.pk))
    return permissions.may_see_gift_details(started_at=at, now=timezone.now().timestamp())


def email_masked(email: str) -> str:
    """ana@example.org → a•••@e•••.org: enough for the giver to recognise, little to anyone."""
    local, _at, domain = email.partition("@")
    if not local or not domain:
        return ""
    name, _dot, suffix = domain.rpartition(".")
    shown_domain = f"{name[:1]}•••.{suffix}" if name else f"{suffix[:1]}•••"
    return f"{local[:1]}•••@{shown_domain}"


def _thanks_for(donation: Donation) -> str:
    return f"{reverse('donations:thanks')}?session_id={donation.stripe_checkout_session_id}"


def _see_other(url: str) -> HttpResponseRedirect:
    response = HttpResponseRedirect(url)
    response.status_code = 303
    return response


def _start_checkout(form: DonateForm, language: str) -> online.CheckoutStart:
    data = form.cleaned_data
    return online.donation_start_checkout(
        campaign=form.campaign,
        team_member=data["team_member"],
        amount=data["amount"],
        currency=data["currency"],
        giver_name=data["name"],
        email=data["email"],
        anonymous=data["anonymous"],
        hide_amount=data["hide_amount"],
        message=data["message"],
        cover_fees=data["cover_fees"],
        language=language,
        frequency=data["frequency"],
    )


def _closed(request: HttpRequest, campaign: Campaign, closed_on) -> HttpResponse:
    context = {"campaign": campaign, "closed_on": closed_on, "message": online.CAMPAIGN_CLOSED}
    status = 403 if request.method == "POST" else 200
    return render(request, "donations/closed.html", context, status=status)


def _rate_limited(request: HttpRequest, campaign: Campaign) -> HttpResponse | None:
    """A 429 page when this client has started too many checkouts lately; else None."""
    verdict = throttle.checkout_attempt(
        ip=client_ip(request), campaign_id=campaign.pk, now=timezone.now()
    )
    if verdict.allowed:
        return None
    response = render(
        request,
        "donations/rate_limited.html",
        {"campaign": campaign, "message": throttle.RATE_LIMITED},
        status=429,
    )
    response["Retry-After"] = str(verdict.retry_after)
    return response


def _chosen_currency(request: HttpRequest, campaign: Campaign) -> str:
    """The currency the giver picked (a link without JavaScript, or the posted field)."""
    wanted = request.POST.get("currency") or request.GET.get("currency") or campaign.currency
    return wanted if wanted in campaign.donation_currencies else campaign.currency


def _donate_form(request: HttpRequest, campaign: Campaign, presets, currency) -> DonateForm:
    """The form, posted; or filled in again from the giver's unfinished gift (?resume=1)."""
    initial = {"team_member": request.GET.get("member", ""), "currency": currency}
    if request.method != "POST" and request.GET.get("resume"):
        gift = resumable_gift(campaign=campaign, donation_id=request.session.get(RESUME_KEY))
        if gift is not None:
            presets[:] = online.gift_presets(currency=gift.currency, on=timezone.localdate())
            initial = DonateForm.initial_from(gift, presets)
    return DonateForm(
        request.POST or None,
        initial=initial,
        campaign=campaign,
        members=list(campaign.team_members.on_team()),
        today=timezone.localdate(),
    )


@require_http_methods(["GET", "HEAD", "POST"])
@never_cache
def donate(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = get_object_or_404(permissions.visible_campaigns(request.user), slug=slug)
    today = timezone.localdate()
    if not campaign.is_open_for_giving(today):
        return _closed(request, campaign, campaign.closed_on(today))
    currency = _chosen_currency(request, campaign)
    presets = online.gift_presets(currency=currency, on=today)
    form = _donate_form(request, campaign, presets, currency)
    if request.method == "POST" and form.is_spam:
        return _see_other(campaign.get_absolute_url())  # looks like success; nothing happens
    if request.method == "POST" and form.is_valid():
        if refused := _rate_limited(request, campaign):
            return refused  # nothing stored, Stripe not called
        try:
            start = _start_checkout(form, translation.get_language() or "en")
        except ValidationError as error:
            form.add_error(None, error)
        except GatewayError:
            form.add_error(None, online.CHECKOUT_UNAVAILABLE)
        else:
            request.session[RESUME_KEY] = str(start.donation.pk)
            _remember_gift(request, start.donation)
            return _see_other(start.redirect_url)
    context = {"campaign": campaign, "form": form, "presets": presets, "demo": online.demo_mode()}
    return render(request, "donations/donate.html", context)


@require_safe
@never_cache
def thanks(request: HttpRequest) -> HttpResponse:
    session_id = request.GET.get("session_id", "")
    if not SESSION_ID.fullmatch(session_id):
        raise Http404("Not a Checkout session id.")
    try:
        result = online.donation_confirm_return(session_id=session_id)
    except Donation.DoesNotExist as error:
        raise Http404("Unknown Checkout session.") from error
    donation = result.donation
    mine = _started_here(request, donation)
    context = {
        "donation": donation,
        "mine": mine,
        "email_masked": email_masked(donation.email) if mine else "",
        "campaign": donation.campaign,
        "outcome": str(result.outcome),
        "share_url": f"{settings.SITE_URL}{donation.campaign.get_absolute_url()}",
        "share_links": share_links(campaign_slug=donation.campaign.slug),
    }
    return render(request, "donations/thanks.html", context)


@require_http_methods(["GET", "HEAD", "POST"])
@never_cache
def demo_checkout(request: HttpRequest, donation_id: uuid.UUID) -> HttpResponse:
    if not online.demo_mode():
        raise Http404("Demo checkout is off: this site takes real payments.")
    donation = get_object_or_404(
        Donation.objects.select_related("campaign"),
        pk=donation_id,
        source=Donation.Source.ONLINE,
    )
    if donation.status != Donation.Status.PENDING:
        # Only the giver, straight after paying, is sent on to the thank-you page (below):
        # gift ids are not secret, and that page shows the giver's email.
        return redirect(donation.campaign.get_absolute_url())
    if request.method != "POST":
        return render(request, "donations/demo_checkout.html", {"donation": donation})
    paid = request.POST.get("action") == "pay"
    donation = online.demo_checkout_complete(donation=donation, paid=paid)
    if paid:
        return redirect(_thanks_for(donation))
    messages.info(request, online.DEMO_DECLINED)
    donate_url = reverse("donations:donate", kwargs={"slug": donation.campaign.slug})
    return redirect(f"{donate_url}?resume=1")
