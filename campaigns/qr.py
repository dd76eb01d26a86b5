"""QR codes for printed flyers, drawn on the server with segno (no request leaves the site)."""

from __future__ import annotations

import segno

# Medium error correction survives a crease or a smudge on a flyer; segno raises it further
# when the code would not grow for it.
QR_ERROR = "m"
QR_BORDER = 4


def qr_data_uri(url: str) -> str:
    """The SVG QR code of `url` as a data: URI for an <img> (the CSP allows data: images)."""
    return segno.make(url, error=QR_ERROR, micro=False).svg_data_uri(
        scale=1, border=QR_BORDER, omitsize=True, dark="#000", light="#fff"
    )
