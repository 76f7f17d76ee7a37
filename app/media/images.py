"""Turning an uploaded file into clean renditions. No database, no Flask: bytes in, bytes out.

- **The type comes from the bytes.** Pillow identifies the file by its content, and only the decoders
  listed in ``ACCEPTED`` are tried: JPEG, PNG, WebP, GIF and AVIF. The file's name and the request's
  Content-Type are never read. SVG (a script container) and everything else is refused.
- **Bombs are refused before decoding.** The header's width × height is checked against the pixel
  limit before a single pixel is decoded (a 100000×100000 PNG header is a few bytes); Pillow's own
  DecompressionBombWarning/Error are turned into the same refusal.
- **Nothing of the upload is kept but its pixels.** Orientation is applied (``exif_transpose``), then the
  pixels are copied into a new image that has no ``info`` at all, and that is encoded. EXIF (GPS, device,
  time), XMP, IPTC, Photoshop blocks, maker notes, comments and any bytes trailing the image (a polyglot's
  payload) cannot survive. The ICC colour profile is kept, so colours look the same.
- **Animated images keep their first frame** (a GIF becomes a PNG): a moving image cannot be given one
  alt text that describes it, costs readers far more bandwidth, and may trouble readers with vestibular
  disorders. This is documented in the README.
- **Responsive widths are made once, here**: ``WIDTHS`` narrower than the image, never wider.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from typing import IO

from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

ACCEPTED = ("JPEG", "PNG", "WEBP", "GIF", "AVIF")
WIDTHS = (480, 960, 1600)
# The stored format for each decoded one: a GIF's first frame is kept losslessly as PNG.
STORED_FORMAT = {"JPEG": "jpeg", "PNG": "png", "WEBP": "webp", "GIF": "png", "AVIF": "avif"}
_SAVE_OPTIONS = {
    "jpeg": {"quality": 85, "optimize": True, "progressive": True},
    "png": {"optimize": False, "compress_level": 6},
    "webp": {"quality": 85, "method": 4},
    "avif": {"quality": 70, "speed": 8},
}


class Refused(Exception):
    """The file is not an image we take; ``status`` is 413 (too large) or 422 (anything else)."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Rendition:
    width: int
    height: int
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True)
class Processed:
    format: str  # as stored: jpeg, png, webp or avif
    full: Rendition
    narrower: tuple[Rendition, ...]

    @property
    def renditions(self) -> tuple[Rendition, ...]:
        return (*self.narrower, self.full)


def process(stream: IO[bytes], *, max_pixels: int) -> Processed:
    """Decode ``stream`` (any position; read from the start) and return its clean renditions.

    :raises Refused: not an accepted image, damaged, or too many pixels.
    """
    stream.seek(0)
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(stream, formats=ACCEPTED) as source:
                _check_pixels(source.size, max_pixels)
                source.seek(0)  # the first frame of an animation
                source.load()
                fmt = STORED_FORMAT[source.format or ""]
                image = _clean(source, fmt)
        except Refused:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise Refused(_too_many_pixels(max_pixels), 413) from None
        except UnidentifiedImageError:
            raise Refused(
                "That file is not an image we accept: send a JPEG, PNG, WebP, GIF or AVIF photo "
                "(SVG and other formats are not accepted)."
            ) from None
        except (OSError, SyntaxError, ValueError, EOFError, KeyError, IndexError, TypeError):
            raise Refused(
                "That image is damaged or incomplete and cannot be read; export it again."
            ) from None
        except MemoryError:
            raise Refused(_too_many_pixels(max_pixels), 413) from None
    full = _encode(image, fmt)
    narrower = tuple(
        _encode(
            image.resize((w, max(1, round(image.height * w / image.width))), Image.Resampling.LANCZOS), fmt
        )
        for w in WIDTHS
        if w < image.width
    )
    return Processed(fmt, full, narrower)


def _too_many_pixels(max_pixels: int) -> str:
    example = f"{max_pixels // 8000:,}"
    return f"That image has too many pixels; the limit is {max_pixels:,} (for example 8000 × {example})."


def _check_pixels(size: tuple[int, int], max_pixels: int) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise Refused("That image has no pixels.")
    if width * height > max_pixels:
        raise Refused(_too_many_pixels(max_pixels), 413)


def _clean(source: Image.Image, fmt: str) -> Image.Image:
    """The upload's pixels, upright, in a new image that carries nothing else but the colour profile."""
    icc = source.info.get("icc_profile") if source.mode not in ("CMYK", "I;16", "I", "F") else None
    upright = ImageOps.exif_transpose(source)
    has_alpha = upright.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in upright.info
    mode = "RGBA" if has_alpha and fmt != "jpeg" else "RGB"
    if upright.mode in ("L", "LA") and not (has_alpha and fmt != "jpeg"):
        mode = "L"
    pixels = upright.convert(mode)
    clean = Image.frombytes(mode, pixels.size, pixels.tobytes())
    if icc and mode != "L":
        clean.info["icc_profile"] = icc
    return clean


def _encode(image: Image.Image, fmt: str) -> Rendition:
    buffer = io.BytesIO()
    options = dict(_SAVE_OPTIONS[fmt])
    icc = image.info.get("icc_profile")
    if icc:
        options["icc_profile"] = icc
    image.save(buffer, format=fmt.upper(), **options)
    return Rendition(image.width, image.height, buffer.getvalue())
