"""An image field that re-encodes every upload before it is stored.

Phone photos carry EXIF metadata, often with the GPS position where they were taken. For a
group working with migrants that is a safety problem, so nothing of the original file is
kept: the pixels are decoded, turned upright, shrunk to sensible bounds and encoded anew,
which leaves every metadata block behind.
"""

from __future__ import annotations

import io
from pathlib import PurePath

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import models
from django.db.models.fields.files import ImageFieldFile
from django.utils.translation import gettext_lazy as _
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_IMAGE_SIDE = 1600
JPEG_QUALITY = 85
# Smaller copies written beside each upload, for `srcset`: a phone downloads the 480 px one.
VARIANT_WIDTHS = (480, 960)


def reencode_image(content) -> tuple[bytes, str]:
    """Return the image's pixels encoded anew (JPEG, or PNG when it has transparency)."""
    content.seek(0)
    try:
        with Image.open(content) as original:
            original.load()
            image = ImageOps.exif_transpose(original)
    except (UnidentifiedImageError, OSError) as error:
        raise ValidationError(_("This file is not an image we can read.")) from error
    image.thumbnail((MAX_IMAGE_SIDE, MAX_IMAGE_SIDE))
    output = io.BytesIO()
    has_alpha = image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info)
    if has_alpha:
        image.convert("RGBA").save(output, format="PNG", optimize=True)
        extension = ".png"
    else:
        image.convert("RGB").save(output, format="JPEG", quality=JPEG_QUALITY, optimize=True)
        extension = ".jpg"
    return output.getvalue(), extension


def variant_name(name: str, width: int) -> str:
    """Where the `width`-pixel copy of a stored image lives ("a/b.jpg" → "a/b-480w.jpg")."""
    path = PurePath(name)
    return str(path.with_name(f"{path.stem}-{width}w{path.suffix}"))


def variant_widths(width: int | None) -> list[int]:
    """The copies an image of this width has (only those smaller than the image itself)."""
    return [size for size in VARIANT_WIDTHS if width and size < width]


def _write_variants(file) -> None:
    """Write the smaller copies of a just-stored image through the file's storage."""
    file.open("rb")
    try:
        with Image.open(file) as image:
            image.load()
            for width in variant_widths(image.width):
                copy = image.copy()
                copy.thumbnail((width, MAX_IMAGE_SIDE))
                output = io.BytesIO()
                if copy.mode in ("RGBA", "LA", "P"):
                    copy.convert("RGBA").save(output, format="PNG", optimize=True)
                else:
                    copy.convert("RGB").save(output, format="JPEG", quality=JPEG_QUALITY)
                name = variant_name(file.name, width)
                if file.storage.exists(name):
                    file.storage.delete(name)
                file.storage.save(name, ContentFile(output.getvalue()))
    finally:
        file.close()


class SanitizedImageFieldFile(ImageFieldFile):
    """Every save goes through here (admin uploads and `field.save(name, content)` alike):
    the pixels are re-encoded without metadata, then the smaller copies are written."""

    def save(self, name, content, save=True):
        data, extension = reencode_image(content)
        clean = ContentFile(data, name=PurePath(name).stem + extension)
        super().save(clean.name, clean, save=save)
        _write_variants(self)


class SanitizedImageField(models.ImageField):
    """ImageField whose uploaded files are re-encoded without metadata.

    Beside each upload it writes smaller copies (VARIANT_WIDTHS) through the same storage
    (so object storage works as well as a disk), named so that pages can list them in
    `srcset` without asking the storage anything.
    """

    attr_class = SanitizedImageFieldFile
