"""Verbs on the media library: upload, describe, record consent, delete; and what posts need to know.

Every verb takes a Session and an explicit actor, flushes, raises app.errors.*, and never commits.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from html import unescape
from typing import IO
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.accounts.permissions import can, require
from app.audit.services import record
from app.errors import Conflict, InvalidInput, NotAllowed, NotFound, TooLarge
from app.media.models import (
    FORMAT_OF_EXT,
    MAX_ALT_CHARS,
    MAX_NAME_CHARS,
    MIME_TYPES,
    SCOPES,
    Media,
    MediaConsent,
    MediaVariant,
    media_path,
)
from app.media.storage import Store

# Our own image addresses, relative or absolute: /media/<sha256 of the stored bytes>.<extension>.
# The one description of them: the renderer, the publishing gates and media usage all read addresses
# through MEDIA_URL, ``media_hash``, ``referenced_hashes`` and ``shown_images`` below.
_MEDIA_PATH = r"media/(?P<sha256>[0-9a-f]{64})\.(?P<ext>jpg|png|webp|avif)"
MEDIA_URL = re.compile(rf"(?:^|/){_MEDIA_PATH}$")
_MEDIA_IN_TEXT = re.compile(rf"/{_MEDIA_PATH}\b")
# Sanitised HTML (app.posts.rendering) writes every attribute double-quoted, lowercase.
IMG_TAG = re.compile(r"<img\b([^>]*)>")
_ATTRIBUTE = re.compile(r'([a-z-]+)="([^"]*)"')


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    max_pixels: int


def _clean_name(name: str) -> str:
    """The file name as the library shows it: its last path part, printable, short. Never trusted for
    anything else (the type comes from the bytes)."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = "".join(c for c in base if c.isprintable()).strip()
    return base[:MAX_NAME_CHARS]


def _check_alt(alt: str) -> str:
    alt = " ".join((alt or "").split())
    if len(alt) > MAX_ALT_CHARS:
        raise InvalidInput(
            f"The alt text is too long ({len(alt):,} characters, the limit is {MAX_ALT_CHARS:,}): "
            "describe what the image shows in a sentence or two.",
            field="alt",
        )
    return alt


def upload(
    session: Session,
    actor: User,
    stream: IO[bytes],
    *,
    name: str,
    alt: str,
    decorative: bool,
    shows_patient: bool,
    store: Store,
    limits: Limits,
) -> tuple[Media, bool]:
    """Store a clean copy of the uploaded image; return (media, created).

    The same image again (the same stored bytes) is the same library entry: it comes back with
    created=False, and gains the alt text and "shows a patient" mark sent with it if it lacked them.
    Two uploads of one image at once both end with the one row (the loser of the unique index reads
    the winner's).
    """
    require(actor, "media.upload")
    return add_image(
        session,
        actor,
        stream,
        name=name,
        alt=alt,
        decorative=decorative,
        shows_patient=shows_patient,
        store=store,
        limits=limits,
    )


def add_image(
    session: Session,
    actor: User,
    stream: IO[bytes],
    *,
    name: str,
    alt: str,
    decorative: bool,
    shows_patient: bool,
    store: Store,
    limits: Limits,
) -> tuple[Media, bool]:
    """``upload`` without asking whether ``actor`` may: for the WordPress import, whose images belong to
    imported authors who are inactive until activated (the operator running the import decided). The
    image goes through the same cleaning, renditions and library rows as any upload."""
    alt = _check_alt(alt)
    if decorative and alt:
        raise InvalidInput("A decorative image has no alt text: clear one or the other.", field="alt")
    stream.seek(0, 2)
    size = stream.tell()
    if size == 0:
        raise InvalidInput("The file is empty.", field="file")
    if size > limits.max_bytes:
        raise TooLarge(f"The file is too large ({size:,} bytes); the limit is {limits.max_bytes:,} bytes.")
    from app.media import images  # Pillow loads with the first upload, not with every worker

    try:
        processed = images.process(stream, max_pixels=limits.max_pixels)
    except images.Refused as refused:
        if refused.status == 413:
            raise TooLarge(refused.message) from None
        raise InvalidInput(refused.message, field="file") from None
    full = processed.full
    existing = session.scalar(select(Media).where(Media.sha256 == full.sha256))
    if existing is not None:
        return _again(session, actor, existing, alt, decorative, shows_patient), False
    mime = MIME_TYPES[processed.format]
    for rendition in processed.renditions:
        store.put(session, rendition.sha256, rendition.data, mime)
    media = Media(
        sha256=full.sha256,
        format=processed.format,
        width=full.width,
        height=full.height,
        name=_clean_name(name),
        alt=alt,
        decorative=decorative,
        shows_patient=shows_patient,
        uploaded_by_id=actor.id,
    )
    try:
        with session.begin_nested():
            session.add(media)
            session.flush()
            for rendition in processed.renditions:
                session.add(
                    MediaVariant(
                        media_id=media.id,
                        sha256=rendition.sha256,
                        width=rendition.width,
                        height=rendition.height,
                        size=len(rendition.data),
                        storage=store.name,
                    )
                )
            session.flush()
    except IntegrityError:  # the same image, uploaded at the same moment by another request
        existing = session.scalar(select(Media).where(Media.sha256 == full.sha256))
        if existing is None:
            raise Conflict("The image could not be stored; please try again.") from None
        return _again(session, actor, existing, alt, decorative, shows_patient), False
    record(
        session, actor, "media.uploaded", media_id=media.id, sha256=media.sha256, shows_patient=shows_patient
    )
    return media, True


def _again(
    session: Session, actor: User, media: Media, alt: str, decorative: bool, shows_patient: bool
) -> Media:
    """An upload of an image already in the library adds what the library lacked, and takes nothing away."""
    if session.get_bind().dialect.name == "postgresql":  # two such uploads at once take turns
        session.execute(select(Media.id).where(Media.id == media.id).with_for_update())
    session.refresh(media)
    if not media.has_alt and (alt or decorative):
        media.alt, media.decorative = alt, decorative
    if shows_patient and not media.shows_patient:
        media.shows_patient = True
        record(session, actor, "media.marked_patient", media_id=media.id)
    session.flush()
    return media


def get(session: Session, media_id: int) -> Media:
    media = session.get(Media, media_id)
    if media is None:
        raise NotFound(f"No image {media_id}.")
    return media


def _may_change(actor: User, media: Media) -> None:
    require(actor, "media.upload")
    if media.uploaded_by_id != actor.id and not can(actor, "media.manage_any"):
        raise NotAllowed("Only the image's uploader or an editor can change it.")


def describe(
    session: Session, actor: User, media: Media, *, alt: str, decorative: bool, shows_patient: bool
) -> Media:
    """Set the image's alt text (or mark it decorative) and whether it shows a patient.

    Posts keep the alt text their Markdown gives; an empty one takes the library's when the post is
    next saved. Unmarking "shows a patient" is an editor's decision, and audited.
    """
    _may_change(actor, media)
    alt = _check_alt(alt)
    if decorative and alt:
        raise InvalidInput("A decorative image has no alt text: clear one or the other.", field="alt")
    if media.shows_patient and not shows_patient and not can(actor, "media.manage_any"):
        raise NotAllowed("Only an editor can say that an image does not show a patient after all.")
    before = (media.alt, media.decorative, media.shows_patient)
    media.alt, media.decorative, media.shows_patient = alt, decorative, shows_patient
    session.flush()
    if before != (alt, decorative, shows_patient):
        record(
            session,
            actor,
            "media.described",
            media_id=media.id,
            decorative=decorative,
            shows_patient=shows_patient,
            alt_chars=len(alt),
        )
    return media


def record_consent(
    session: Session,
    actor: User,
    media: Media,
    *,
    form_reference: str,
    consented_on: date,
    expires_on: date,
    scopes: Iterable[str],
    note: str = "",
) -> MediaConsent:
    """Record a patient's consent for an image (append-only; a later record supersedes nothing, it adds)."""
    _may_change(actor, media)
    reference = " ".join((form_reference or "").split())
    if not reference:
        raise InvalidInput("Give the consent form's reference.", field="form_reference")
    if len(reference) > 200:
        raise InvalidInput("The form reference is too long (200 characters at most).", field="form_reference")
    chosen = sorted(set(scopes))
    if not chosen or any(s not in SCOPES for s in chosen):
        raise InvalidInput(f"Choose where the image may appear: {', '.join(SCOPES)}.", field="scopes")
    if expires_on < consented_on:
        raise InvalidInput("The consent cannot expire before it was given.", field="expires_on")
    if len(note) > 2000:
        raise InvalidInput("The note is too long (2,000 characters at most).", field="note")
    consent = MediaConsent(
        media_id=media.id,
        form_reference=reference,
        consented_on=consented_on,
        expires_on=expires_on,
        scopes=chosen,
        note=note.strip(),
        recorded_by_id=actor.id,
    )
    session.add(consent)
    session.flush()
    record(
        session,
        actor,
        "media.consent_recorded",
        media_id=media.id,
        consent_id=consent.id,
        scopes=chosen,
        expires_on=expires_on.isoformat(),
    )
    return consent


def consents(session: Session, media: Media) -> list[MediaConsent]:
    return list(
        session.scalars(
            select(MediaConsent).where(MediaConsent.media_id == media.id).order_by(MediaConsent.id.desc())
        )
    )


def has_consent(session: Session, media: Media, day: date, scope: str = "web") -> bool:
    return any(c.covers(scope, day) for c in consents(session, media))


def delete(session: Session, actor: User, media: Media, store: Store) -> None:
    """Delete an image no revision uses. One that any revision uses is kept: the database refuses
    (``revision_media`` references it with ON DELETE RESTRICT), and that answers 409."""
    _may_change(actor, media)
    hashes = [v.sha256 for v in media.variants]
    media_id = media.id
    try:
        with session.begin_nested():
            session.delete(media)
            session.flush()
    except IntegrityError:
        raise Conflict("This image is used by a post's revision, so it is kept with that history.") from None
    for sha256 in hashes:
        if session.scalar(select(MediaVariant.id).where(MediaVariant.sha256 == sha256).limit(1)) is None:
            store.delete(session, sha256)
    record(session, actor, "media.deleted", media_id=media_id)


def library(session: Session, *, limit: int = 200) -> list[Media]:
    return list(session.scalars(select(Media).order_by(Media.id.desc()).limit(limit)))


def variant_by_path(session: Session, sha256: str, ext: str) -> MediaVariant | None:
    """The stored rendition ``/media/<sha256>.<ext>`` names, if it is ours and of that type."""
    fmt = FORMAT_OF_EXT.get(ext)
    if fmt is None:
        return None
    return session.scalar(
        select(MediaVariant)
        .join(Media, Media.id == MediaVariant.media_id)
        .where(MediaVariant.sha256 == sha256, Media.format == fmt)
        .limit(1)
    )


def referenced_hashes(text: str) -> set[str]:
    """The sha256 of every address of ours (``/media/<hash>.<ext>``) in a text, Markdown or HTML."""
    return {m.group("sha256") for m in _MEDIA_IN_TEXT.finditer(text)}


def media_hash(src: str) -> str | None:
    """The sha256 an image's ``src`` (as written in HTML) names if it is one of our addresses: relative
    or absolute, with a query or a fragment; None for anyone else's image."""
    hit = MEDIA_URL.search(urlsplit(unescape(src)).path)
    return hit.group("sha256") if hit else None


def img_attributes(tag_attributes: str) -> dict[str, str]:
    """The attributes of one sanitised ``<img>`` (the inside of ``IMG_TAG``'s match), still escaped."""
    return dict(_ATTRIBUTE.findall(tag_attributes))


@dataclass(frozen=True)
class ShownImage:
    """One image of ours that a revision shows: its address as written, its alt text, its hash."""

    src: str
    alt: str
    sha256: str


def shown_images(html: str) -> list[ShownImage]:
    """Every image of our library that sanitised ``html`` shows, in order, once per address."""
    seen: dict[str, ShownImage] = {}
    for match in IMG_TAG.finditer(html):
        attrs = img_attributes(match.group(1))
        src = unescape(attrs.get("src", ""))
        sha256 = media_hash(src)
        if sha256 is not None and src not in seen:
            seen[src] = ShownImage(src, unescape(attrs.get("alt", "")), sha256)
    return list(seen.values())


def by_hashes(session: Session, hashes: Iterable[str]) -> dict[str, Media]:
    """The library's images whose full-size (or any) rendition has one of these hashes, by hash."""
    wanted = set(hashes)
    if not wanted:
        return {}
    found: dict[str, Media] = {}
    rows = session.execute(
        select(MediaVariant.sha256, Media)
        .join(Media, Media.id == MediaVariant.media_id)
        .where(MediaVariant.sha256.in_(wanted))
    )
    for sha256, media in rows:
        found.setdefault(sha256, media)
    return found


@dataclass(frozen=True)
class ImageInfo:
    """What the renderer needs of one of our images: its size, its library alt text, its renditions."""

    width: int
    height: int
    alt: str
    decorative: bool
    path: str
    srcset: tuple[tuple[str, int], ...]


def image_infos(session: Session, text: str) -> dict[str, ImageInfo]:
    """For every image of ours a text references (by any rendition's hash): what rendering needs."""
    infos: dict[str, ImageInfo] = {}
    for sha256, media in by_hashes(session, referenced_hashes(text)).items():
        infos[sha256] = ImageInfo(
            width=media.width,
            height=media.height,
            alt=media.alt,
            decorative=media.decorative,
            path=media.path,
            srcset=tuple((media_path(v.sha256, media.format), v.width) for v in media.variants),
        )
    return infos
