import io

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import ExifTags, Image

from campaigns.fields import MAX_IMAGE_SIDE
from tests.factories import CampaignFactory, TeamMemberFactory

pytestmark = pytest.mark.django_db


def jpeg_with_gps(size=(3000, 2000)) -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.Base.Model] = "Phone 12"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (41.0, 50.0, 59.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "W"
    gps[ExifTags.GPS.GPSLongitude] = (87.0, 41.0, 42.0)
    buffer = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(buffer, format="JPEG", exif=exif)
    return buffer.getvalue()


def test_the_test_image_really_carries_gps_data():
    with Image.open(io.BytesIO(jpeg_with_gps())) as image:
        gps = image.getexif().get_ifd(ExifTags.IFD.GPSInfo)
        assert gps[ExifTags.GPS.GPSLatitudeRef] == "N"


def test_uploaded_jpeg_is_stored_without_exif_and_within_bounds():
    upload = SimpleUploadedFile("IMG_0001.jpeg", jpeg_with_gps(), content_type="image/jpeg")
    campaign = CampaignFactory(hero_image=upload)
    campaign.refresh_from_db()
    assert campaign.hero_image.name.startswith("campaigns/IMG_0001")
    assert campaign.hero_image.name.endswith(".jpg")
    with campaign.hero_image.open("rb") as stored, Image.open(stored) as image:
        assert image.format == "JPEG"
        assert image.size == (MAX_IMAGE_SIDE, 1067)  # 2000 * 1600 / 3000, rounded
        assert (campaign.hero_image_width, campaign.hero_image_height) == image.size
        assert len(image.getexif()) == 0
        assert "exif" not in image.info
    with campaign.hero_image.open("rb") as stored:
        raw = stored.read()
    assert b"Exif" not in raw
    assert b"PhoneMaker" not in raw


def test_exif_orientation_is_applied_before_it_is_dropped():
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # rotate 90° clockwise to display
    buffer = io.BytesIO()
    Image.new("RGB", (400, 200), "white").save(buffer, format="JPEG", exif=exif)
    member = TeamMemberFactory(photo=SimpleUploadedFile("me.jpg", buffer.getvalue()))
    with member.photo.open("rb") as stored, Image.open(stored) as image:
        assert image.size == (200, 400)
        assert len(image.getexif()) == 0


def test_small_image_is_not_enlarged():
    upload = SimpleUploadedFile("small.jpg", jpeg_with_gps(size=(300, 200)))
    campaign = CampaignFactory(hero_image=upload)
    with campaign.hero_image.open("rb") as stored, Image.open(stored) as image:
        assert image.size == (300, 200)


def test_png_with_transparency_stays_png_and_keeps_its_alpha():
    image = Image.new("RGBA", (2400, 1200), (255, 0, 0, 0))
    image.putpixel((0, 0), (255, 0, 0, 255))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    member = TeamMemberFactory(photo=SimpleUploadedFile("logo.png", buffer.getvalue()))
    assert member.photo.name.endswith(".png")
    with member.photo.open("rb") as stored, Image.open(stored) as stored_image:
        assert stored_image.format == "PNG"
        assert stored_image.mode == "RGBA"
        assert stored_image.size == (MAX_IMAGE_SIDE, MAX_IMAGE_SIDE // 2)
        assert stored_image.getpixel((800, 400))[3] == 0


def test_a_file_that_is_not_an_image_is_refused():
    upload = SimpleUploadedFile("notes.jpg", b"not an image at all")
    with pytest.raises(ValidationError):
        CampaignFactory(hero_image=upload)


def test_saving_again_does_not_reencode_a_stored_image():
    campaign = CampaignFactory(hero_image=SimpleUploadedFile("a.jpg", jpeg_with_gps((200, 100))))
    name = campaign.hero_image.name
    campaign.title = "Renamed"
    campaign.save()
    campaign.refresh_from_db()
    assert campaign.hero_image.name == name


def test_an_upload_gets_smaller_copies_that_the_page_offers_in_srcset(client, settings):
    import io as _io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image as _Image

    from campaigns.fields import variant_name
    from tests.factories import CampaignFactory
    from tests.html import attributes

    buffer = _io.BytesIO()
    _Image.new("RGB", (1200, 600), (20, 120, 60)).save(buffer, format="JPEG")
    campaign = CampaignFactory(
        hero_image=SimpleUploadedFile("big.jpg", buffer.getvalue(), content_type="image/jpeg")
    )

    storage = campaign.hero_image.storage
    for width in (480, 960):
        with _Image.open(storage.open(variant_name(campaign.hero_image.name, width))) as copy:
            assert copy.size == (width, width // 2)
    hero = attributes(client.get(campaign.get_absolute_url()).content.decode(), "img.hero")[0]
    assert hero["srcset"].split(", ") == [
        f"/media/{variant_name(campaign.hero_image.name, 480)} 480w",
        f"/media/{variant_name(campaign.hero_image.name, 960)} 960w",
        f"/media/{campaign.hero_image.name} 1200w",
    ]
    assert (hero["width"], hero["height"]) == ("1200", "600")
    assert "loading" not in hero  # the first picture on the page is not lazy
