"""Images of imported posts: taken from a copy of ``wp-content/uploads`` into the media library.

Through ``app.media.services.upload``, the same pipeline as a staff upload: metadata (EXIF, GPS) is
stripped and the renditions made. The Markdown then points at the library's address. An image that is
not in the uploads directory (or when none is given) keeps its old address and is listed as missing.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

from sqlalchemy.orm import Session

from app.accounts.models import User
from app.errors import CandorError
from app.importer.report import Report
from app.media import services as media
from app.media.storage import Store
from app.wordpress import records as wp

# Markdown images, as convert.py writes them: ![alt](url) or ![alt](url "title").
_IMAGE = re.compile(r"!\[(?P<alt>[^\]]*)\]\((?P<url>[^)\s]+)(?P<title>\s+\"[^\"]*\")?\)")
_UPLOADS = "/wp-content/uploads/"
# WordPress's resized copies: photo-300x200.jpg is photo.jpg made smaller.
_SIZED = re.compile(r"-\d+x\d+(?=\.[A-Za-z0-9]+$)")


class Images:
    def __init__(
        self,
        session: Session,
        report: Report,
        store: Store | None,
        limits: media.Limits,
        uploads: Path | None,
    ):
        self.session, self.report, self.store, self.limits = session, report, store, limits
        self.uploads = uploads.resolve() if uploads else None
        self.site = ""
        self._done: dict[str, str] = {}  # old URL -> new address
        self._since: list[str] = []  # URLs imported inside the current post's savepoint

    def begin(self) -> None:
        """A post's savepoint starts: what it imports is forgotten if the savepoint is rolled back."""
        self._since = []

    def forget(self) -> None:
        for url in self._since:
            self._done.pop(url, None)
        self._since = []

    def attachment(self, item: wp.Item) -> None:
        """An attachment item: nothing to do by itself; its image is imported when a post shows it."""

    def rewrite(self, markdown: str, uploader: User | None, where: dict[str, object]) -> str:
        def replace(match: re.Match[str]) -> str:
            url = match.group("url")
            relative = self._relative(url)
            if relative is None:
                return match.group(0)
            new = self._import(relative, match.group("alt"), uploader, url, where)
            if new is None:
                return match.group(0)
            return f"![{match.group('alt')}]({new}{match.group('title') or ''})"

        return _IMAGE.sub(replace, markdown)

    def _relative(self, url: str) -> str | None:
        """The path under uploads of an image of this site (or any WordPress uploads path), else None."""
        path = unquote(urlsplit(url).path)
        if _UPLOADS not in path:
            return None
        return path.split(_UPLOADS, 1)[1]

    def _import(
        self, relative: str, alt: str, uploader: User | None, url: str, where: dict[str, object]
    ) -> str | None:
        if url in self._done:
            return self._done[url]
        file = self._file(relative)
        if file is None or self.store is None or uploader is None:
            why = "no --uploads directory given" if self.uploads is None else "not in the uploads directory"
            self.report.count("image", "failed")
            self.report.note("image", "missing", why, url=url, **where)
            self._done[url] = url
            return None
        try:
            with file.open("rb") as stream:
                item, created = media.add_image(
                    self.session,
                    uploader,
                    stream,
                    name=file.name,
                    alt=alt,
                    decorative=False,
                    shows_patient=False,
                    store=self.store,
                    limits=self.limits,
                )
        except CandorError as error:
            self.report.count("image", "failed")
            self.report.note("image", "failed", error.message, url=url, **where)
            self._done[url] = url
            return None
        self.report.count("image", "imported" if created else "unchanged")
        self._done[url] = item.path
        if created:
            self._since.append(url)
        return item.path

    def _file(self, relative: str) -> Path | None:
        if self.uploads is None:
            return None
        for candidate in (relative, _SIZED.sub("", relative)):
            path = (self.uploads / candidate).resolve()
            if path.is_relative_to(self.uploads) and path.is_file():  # never outside the directory
                return path
        return None
