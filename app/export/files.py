"""The library's stored image files, written out beside an export (``flask export --media DIR``)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import keyset_batches
from app.media.models import EXTENSIONS, Media, MediaVariant
from app.media.storage import Store

BATCH = 100


def write_media_files(session: Session, store: Store, directory: Path, *, batch: int = BATCH) -> list[str]:
    """Write every stored rendition as ``DIR/<sha256>.<ext>``, the path it is served at under /media/,
    so the directory can be served as it is; the renditions the store no longer has, by name.

    One rendition's bytes are in memory at a time.
    """
    directory.mkdir(parents=True, exist_ok=True)
    missing: list[str] = []
    stmt = select(MediaVariant.id, MediaVariant.sha256, Media.format).join(
        Media, Media.id == MediaVariant.media_id
    )
    for rows in keyset_batches(session, stmt, MediaVariant.id, size=batch):
        for _variant_id, sha256, fmt in rows:
            name = f"{sha256}.{EXTENSIONS[fmt]}"
            data = store.get(session, sha256)
            if data is None:
                missing.append(name)
                continue
            (directory / name).write_bytes(data)
    return missing
