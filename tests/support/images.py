"""Images for the media tests: phone photos with every kind of metadata (made with Pillow), animations,
forged headers; and the check that served bytes carry none of it."""

from __future__ import annotations

import io
import zlib
from typing import Any

from PIL import Image, TiffImagePlugin

GPS_LATITUDE = 51.5014


def _exif(orientation: int = 6) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "SecretPhone 12"  # Model
    exif[0x0112] = orientation  # Orientation: 6 = rotate 90° clockwise to show
    exif[0x0132] = "2026:12:01 09:30:00"  # DateTime
    exif[0x8825] = {  # GPSInfo
        1: "N",
        2: (TiffImagePlugin.IFDRational(51), TiffImagePlugin.IFDRational(30), TiffImagePlugin.IFDRational(5)),
        3: "W",
        4: (TiffImagePlugin.IFDRational(0), TiffImagePlugin.IFDRational(7), TiffImagePlugin.IFDRational(39)),
    }
    exif.get_ifd(0x8769)[0x927C] = b"MAKERNOTE-serial-123456"  # MakerNote
    return exif


XMP = (
    b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
    b"<rdf:RDF><rdf:Description>PatientName-Quigley</rdf:Description></rdf:RDF></x:xmpmeta>"
    b'<?xpacket end="w"?>'
)


def photo(fmt: str = "JPEG", size: tuple[int, int] = (2000, 1200), **extra: Any) -> bytes:
    """A photo as a phone makes it: EXIF with GPS, maker note and orientation, XMP, an sRGB profile."""
    from PIL import ImageCms

    image = Image.new("RGB", size)
    for x in range(0, size[0], 50):  # some structure, so resizing has work to do
        image.paste((x % 256, 80, 160), (x, 0, x + 25, size[1]))
    buffer = io.BytesIO()
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    options: dict[str, Any] = {"exif": _exif().tobytes(), "icc_profile": icc, **extra}
    if fmt in ("JPEG", "WEBP", "PNG", "AVIF"):
        options["xmp"] = XMP
    if fmt == "JPEG":
        options["comment"] = b"Taken at the clinic, room 12"
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def animated_gif() -> bytes:
    frames = [Image.new("P", (300, 200), color) for color in (1, 2, 3)]
    buffer = io.BytesIO()
    frames[0].save(
        buffer,
        format="GIF",
        save_all=True,
        append_images=frames[1:],
        duration=100,
        loop=0,
        comment=b"GIF comment",
    )
    return buffer.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` × ``height`` pixels, with one tiny compressed row of data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


METADATA_MARKERS = (
    b"Exif",
    b"GPS",
    b"xpacket",
    b"Photoshop",
    b"PhoneMaker",
    b"SecretPhone",
    b"MAKERNOTE",
    b"PatientName",
    b"room 12",
    b"comment",
)


def assert_no_metadata(data: bytes) -> None:
    for marker in METADATA_MARKERS:
        assert marker not in data, marker
    with Image.open(io.BytesIO(data)) as image:
        assert len(image.getexif()) == 0
        assert set(image.info) <= {
            "icc_profile",
            "dpi",
            "jfif",
            "jfif_version",
            "jfif_unit",
            "jfif_density",
            "progressive",
            "progression",
            "loop",
            "duration",
            "background",
        }, image.info
