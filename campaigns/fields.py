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
from django.core.files.uploadedfile import InMemoryUploadedFile
from django.db import models
from django.utils.translation import gettext_lazy as _
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_IMAGE_SIDE = 1600
JPEG_QUALITY = 85


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


class SanitizedImageField(models.ImageField):
    """ImageField whose newly uploaded files are re-encoded without metadata."""

    def pre_save(self, model_instance, add):
        file = getattr(model_instance, self.attname)
        if file and not file._committed:
            data, extension = reencode_image(file.file)
            name = PurePath(file.name).stem + extension
            file.file = InMemoryUploadedFile(
                io.BytesIO(data),
                self.name,
                name,
                "image/jpeg" if extension == ".jpg" else "image/png",
                len(data),
                None,
            )
            file.name = name
        return super().pre_save(model_instance, add)
