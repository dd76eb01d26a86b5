"""The raster picture link previews show for a campaign without a photo.

Facebook, WhatsApp and X accept PNG or JPEG for `og:image`, not SVG; this draws the same
picture as the page's SVG (the campaign's colours and initials, curves) at 1200 x 630, the
size link previews ask for, with Pillow.
"""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFont

from campaigns.models import Campaign

WIDTH, HEIGHT = 1200, 630


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # a Pillow built without FreeType: the small bitmap font
        return ImageFont.load_default()


def share_picture_png(campaign: Campaign) -> bytes:
    background, pattern = campaign.palette
    image = Image.new("RGB", (WIDTH, HEIGHT), background)
    draw = ImageDraw.Draw(image)
    for x, y, radius in ((1080, 90, 230), (140, 620, 260), (930, 560, 120)):
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=pattern)
    draw.text(
        (WIDTH / 2, 300), campaign.title_initials, fill="#ffffff", font=_font(220), anchor="mm"
    )
    title = campaign.title if len(campaign.title) <= 60 else campaign.title[:57] + "…"
    draw.text((WIDTH / 2, 520), title, fill="#ffffff", font=_font(44), anchor="mm")
    output = io.BytesIO()
    image.save(output, format="PNG", optimize=True)
    return output.getvalue()
