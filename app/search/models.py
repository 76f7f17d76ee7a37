"""One search document per public post or page: the text of its published revision, nothing else.

Drafts and revisions in review never reach this table, so no query, however written, can find them.
It is rewritten at each publication (``app.search.services.index_post``), and the database keeps its
full-text index in step: on PostgreSQL a GIN index over a weighted ``tsvector`` expression
(``ix_search_documents_fts``), on SQLite an FTS5 external-content table ``search_fts`` maintained by
triggers. Both are created by migration 0015 and are outside the ORM's metadata.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import utc_now
from app.db import Base, ReaderVisible


class SearchDocument(ReaderVisible, Base):
    """Reader-visible: rewriting it (a renamed topic, a redaction) moves the post's cache version too,
    since the post's pages show the same words."""

    __tablename__ = "search_documents"

    # The rowid of the SQLite FTS5 table: an INTEGER PRIMARY KEY, given (the post's), never generated.
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"), primary_key=True, autoincrement=False)
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    topics: Mapped[str] = mapped_column(Text, default="")
    authors: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)

    def __repr__(self) -> str:
        return f"<SearchDocument post={self.post_id}>"
