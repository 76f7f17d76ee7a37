"""The WordPress import: one pass over the export's records, each written through the domain services."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from app.importer.report import Report


def import_wordpress(
    session: Session, path: str | Path, uploads: str | Path | None = None, dry_run: bool = False
) -> Report:
    """Import the WXR file at ``path`` into ``session``'s transaction; flushes, never commits.

    With ``dry_run`` everything is done and then rolled back (the caller's transaction is left empty).
    """
    raise NotImplementedError("WordPress import: coming on branch wp-import")
