"""Where each network's share link goes, and the links our pages show for sharing.

Our pages never link to a network directly: each link goes through
`/c/<slug>/share/<network>/`, which counts the share and then redirects to the address
built here. Only these five networks exist; anything else is a 404 there, so the redirect
can never be pointed at an arbitrary address.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from campaigns.models import ShareNetwork

SHARE_LABELS = {
    ShareNetwork.FACEBOOK: _("Share on Facebook"),
    ShareNetwork.X: _("Share on X"),
    ShareNetwork.WHATSAPP: _("Share on WhatsApp"),
    ShareNetwork.TELEGRAM: _("Share on Telegram"),
    ShareNetwork.EMAIL: _("Share by email"),
}


def network_url(network: str, *, url: str, title: str, summary: str) -> str:
    """The network's own share address for a page (`url` is absolute)."""
    if network == ShareNetwork.FACEBOOK:
        return "https://www.facebook.com/sharer/sharer.php?" + urlencode({"u": url})
    if network == ShareNetwork.X:
        return "https://x.com/intent/post?" + urlencode({"url": url, "text": title})
    if network == ShareNetwork.WHATSAPP:
        return "https://wa.me/?" + urlencode({"text": f"{title} {url}"})
    if network == ShareNetwork.TELEGRAM:
        return "https://t.me/share/url?" + urlencode({"url": url, "text": title})
    if network == ShareNetwork.EMAIL:
        # RFC 6068: spaces are %20 in mailto, never "+".
        body = f"{summary}\n\n{url}"
        return f"mailto:?subject={quote(title)}&body={quote(body)}"
    raise ValueError(f"Unknown network {network!r}")


@dataclass(frozen=True)
class ShareLink:
    network: str
    name: str  # shown: "WhatsApp"
    label: str  # its accessible name, which contains what is shown: "Share on WhatsApp"
    href: str


def share_links(*, campaign_slug: str, member_slug: str | None = None) -> list[ShareLink]:
    """The counted share links for a campaign page, or for a team member's view of it."""
    query = f"?{urlencode({'member': member_slug})}" if member_slug else ""
    return [
        ShareLink(
            network=network,
            name=str(ShareNetwork(network).label),
            label=str(label),
            href=reverse("campaigns:share", kwargs={"slug": campaign_slug, "network": network})
            + query,
        )
        for network, label in SHARE_LABELS.items()
    ]
