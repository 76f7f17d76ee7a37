"""The whole record as one JSON document (``docs/export.schema.json``), streamed.

Top-level sections are arrays written one element at a time. Each is read in keyset batches (``id`` above
the last one seen) straight from the tables as Core rows, so no ORM identity map grows with the blog, and
what belongs to one element (a post's revisions, approvals, publications...; a comment's moderation
decisions) is fetched for the whole batch at once with ``IN``. Memory is bounded by the batch, whatever
the number of posts; a single post's history is the one thing held whole.

Rows are written with the columns ``tables.COLUMNS`` allows, under their own names, plus nesting; ids are
the database's, so every cross-reference (an approval's ``revision_id``, a comment's ``parent_id``)
resolves inside the document.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, BinaryIO

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from app.db import keyset_batches
from app.export.tables import COLUMNS, TABLES

FORMAT = "candor-export"
VERSION = 1
BATCH = 200

Row = dict[str, Any]


@dataclass(frozen=True)
class SiteInfo:
    """What the export says about the blog it came from."""

    name: str
    public_url: str
    timezone: str


@dataclass
class Counts:
    """How many elements each top-level section holds, for the command's summary and the file's own."""

    sections: dict[str, int] = field(default_factory=dict)

    def add(self, section: str, n: int = 1) -> None:
        self.sections[section] = self.sections.get(section, 0) + n


def _table(name: str) -> Table:
    return TABLES[name]


def _value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN or infinity; a strict reader would refuse the whole file
    return value


def _select(name: str) -> Any:
    """The columns table ``name`` exports."""
    table = _table(name)
    return select(*(table.c[c] for c in COLUMNS[name]))


def _record(name: str, row: Any) -> Row:
    """One row of table ``name`` as a plain dict of JSON values."""
    return {column: _value(value) for column, value in zip(COLUMNS[name], row, strict=True)}


def _rows(
    session: Session, name: str, *where: Any, order: tuple[str, ...] = ("id",), limit: int | None = None
) -> Iterator[Row]:
    """Rows of table ``name``, the columns it exports only, as plain dicts of JSON values."""
    table = _table(name)
    stmt = _select(name).where(*where).order_by(*(table.c[o] for o in order))
    for row in session.execute(stmt.limit(limit) if limit is not None else stmt):
        yield _record(name, row)


def _batches(session: Session, name: str, size: int, key: str = "id") -> Iterator[list[Row]]:
    """The table's rows in ``key`` order, ``size`` at a time: keyset, so each batch is an index range."""
    for batch in keyset_batches(session, _select(name), _table(name).c[key], size=size):
        yield [_record(name, row) for row in batch]


def _by(
    session: Session, name: str, key: str, ids: Iterable[Any], order: tuple[str, ...] = ("id",)
) -> dict[Any, list[Row]]:
    """Rows of ``name`` whose ``key`` is one of ``ids``, grouped by it (each group in ``order``)."""
    ids = list(ids)
    grouped: dict[Any, list[Row]] = defaultdict(list)
    if ids:
        for row in _rows(session, name, _table(name).c[key].in_(ids), order=order):
            grouped[row[key]].append(row)
    return grouped


def _one(groups: dict[Any, list[Row]], key: Any) -> Row | None:
    rows = groups.get(key)
    return rows[0] if rows else None


class _Out:
    """Writes the document's punctuation around the elements, so one element at a time is in memory."""

    def __init__(self, out: BinaryIO):
        self.out = out
        self.first_section = True

    def put(self, text: str) -> None:
        self.out.write(text.encode("utf-8"))

    def value(self, value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    def member(self, key: str, value: Any) -> None:
        self.put(("" if self.first_section else ",\n") + f"{json.dumps(key)}:{self.value(value)}")
        self.first_section = False

    def array(self, key: str, elements: Iterator[Row], counts: Counts) -> None:
        self.put(("" if self.first_section else ",\n") + f"{json.dumps(key)}:[")
        self.first_section = False
        counts.sections.setdefault(key, 0)
        for number, element in enumerate(elements):
            self.put(("\n" if number == 0 else ",\n") + self.value(element))
            counts.add(key)
        self.put("\n]")


def write_record(
    session: Session, out: BinaryIO, site: SiteInfo, exported_at: datetime, *, batch: int = BATCH
) -> Counts:
    """Write the whole record to ``out`` (UTF-8 JSON); the count of each section.

    Reads only: call it in a transaction that sees one state of the database (``app.db.snapshot``).
    """
    counts = Counts()
    doc = _Out(out)
    doc.put("{")
    doc.member("format", FORMAT)
    doc.member("version", VERSION)
    doc.member("exported_at", exported_at.isoformat())
    doc.member("site", {"name": site.name, "public_url": site.public_url, "timezone": site.timezone})
    sections: tuple[tuple[str, Callable[[Session, int], Iterator[Row]]], ...] = (
        ("staff", _staff),
        ("disclosures", _flat("disclosures")),
        ("topics", _topics),
        ("media", _media),
        ("external_sites", _external_sites),
        ("posts", _posts),
        ("comments", _comments),
        ("contact_messages", _contact_messages),
        ("redactions", _redactions),
        ("settings", _flat("settings", key="key")),
        ("setting_changes", _flat("setting_changes")),
        ("audit", _flat("audit_entries")),
        ("wordpress_items", _flat("wordpress_items")),
    )
    for key, elements in sections:
        doc.array(key, elements(session, batch), counts)
    doc.member("counts", counts.sections)
    doc.put("\n}\n")
    return counts


def _flat(name: str, key: str = "id") -> Callable[[Session, int], Iterator[Row]]:
    def elements(session: Session, size: int) -> Iterator[Row]:
        for rows in _batches(session, name, size, key):
            yield from rows

    return elements


def _staff(session: Session, size: int) -> Iterator[Row]:
    """Staff accounts without their secrets, each with roles and the single sign-on identities linked."""
    for users in _batches(session, "users", size):
        ids = [u["id"] for u in users]
        roles = _by(session, "user_roles", "user_id", ids, order=("user_id", "role"))
        identities = _by(session, "user_identities", "user_id", ids)
        for user in users:
            user["roles"] = [r["role"] for r in roles.get(user["id"], [])]
            user["identities"] = identities.get(user["id"], [])
            yield user


def _topics(session: Session, size: int) -> Iterator[Row]:
    """Topics, each with its parent where a WordPress import brought a category hierarchy."""
    for topics in _batches(session, "topics", size):
        parents = _by(session, "topic_parents", "topic_id", [t["id"] for t in topics], order=("topic_id",))
        for topic in topics:
            parent = _one(parents, topic["id"])
            topic["parent_id"] = parent["parent_id"] if parent else None
            yield topic


def _media(session: Session, size: int) -> Iterator[Row]:
    """The library's images (metadata; the bytes go to files with ``--media``), renditions and consents."""
    for images in _batches(session, "media", size):
        ids = [m["id"] for m in images]
        variants = _by(session, "media_variants", "media_id", ids, order=("media_id", "width"))
        consents = _by(session, "media_consents", "media_id", ids)
        for image in images:
            image["variants"] = variants.get(image["id"], [])
            image["consents"] = consents.get(image["id"], [])
            yield image


def _external_sites(session: Session, size: int) -> Iterator[Row]:
    for entries in _batches(session, "external_sites", size):
        decisions = _by(session, "external_site_decisions", "site_id", [s["id"] for s in entries])
        for entry in entries:
            entry["decisions"] = decisions.get(entry["id"], [])
            yield entry


def _posts(session: Session, size: int) -> Iterator[Row]:
    """Each post or page with its whole history: every address, revision (with its topics and images),
    review, approval (and its withdrawal), publication, gate override, retraction, health mark, medical
    review, comment closure, reader error report, link check, autosaved draft, the old (WordPress)
    addresses that answer 301, and a page's parent."""
    for posts in _batches(session, "posts", size):
        ids = [p["id"] for p in posts]
        revisions = _by(session, "post_revisions", "post_id", ids, order=("post_id", "number"))
        revision_ids = [r["id"] for rows in revisions.values() for r in rows]
        topics = _by(
            session, "revision_topics", "revision_id", revision_ids, order=("revision_id", "topic_id")
        )
        images = _by(
            session, "revision_media", "revision_id", revision_ids, order=("revision_id", "media_id")
        )
        approvals = _by(session, "approvals", "post_id", ids)
        withdrawals = _by(
            session,
            "approval_withdrawals",
            "approval_id",
            [a["id"] for rows in approvals.values() for a in rows],
        )
        children = {
            "addresses": _by(session, "post_slugs", "post_id", ids),
            "reviews": _by(session, "reviews", "post_id", ids),
            "publications": _by(session, "publications", "post_id", ids),
            "gate_overrides": _by(session, "gate_overrides", "post_id", ids),
            "health_marks": _by(session, "post_health_marks", "post_id", ids),
            "medical_reviews": _by(session, "medical_reviews", "post_id", ids),
            "error_reports": _by(session, "error_reports", "post_id", ids),
            "link_checks": _by(session, "link_checks", "post_id", ids),
            "draft_buffers": _by(session, "draft_buffers", "post_id", ids),
            "legacy_paths": _by(session, "legacy_paths", "post_id", ids),
        }
        parents = _by(session, "page_parents", "post_id", ids, order=("post_id",))
        retractions = _by(session, "retractions", "post_id", ids)
        closures = _by(session, "comment_closures", "post_id", ids, order=("post_id",))
        for post in posts:
            post_id = post["id"]
            post["revisions"] = [
                {
                    **revision,
                    "topic_ids": [t["topic_id"] for t in topics.get(revision["id"], [])],
                    "media_ids": [m["media_id"] for m in images.get(revision["id"], [])],
                }
                for revision in revisions.get(post_id, [])
            ]
            post["approvals"] = [
                {**approval, "withdrawal": _one(withdrawals, approval["id"])}
                for approval in approvals.get(post_id, [])
            ]
            for key, groups in children.items():
                post[key] = groups.get(post_id, [])
            post["retraction"] = _one(retractions, post_id)
            post["comment_closure"] = _one(closures, post_id)
            parent = _one(parents, post_id)
            post["parent_id"] = parent["parent_id"] if parent else None
            yield post


def _comments(session: Session, size: int) -> Iterator[Row]:
    """Every comment, whatever its status, with every moderation decision about it and its subscription."""
    for comments in _batches(session, "comments", size):
        ids = [c["id"] for c in comments]
        decisions = _by(session, "moderation_decisions", "comment_id", ids, order=("comment_id", "at", "id"))
        subscriptions = _by(session, "comment_subscriptions", "comment_id", ids)
        for comment in comments:
            comment["decisions"] = decisions.get(comment["id"], [])
            comment["subscription"] = _one(subscriptions, comment["id"])
            yield comment


def _contact_messages(session: Session, size: int) -> Iterator[Row]:
    for messages in _batches(session, "contact_messages", size):
        replies = _by(session, "contact_replies", "message_id", [m["id"] for m in messages])
        for message in messages:
            message["replies"] = replies.get(message["id"], [])
            yield message


def _redactions(session: Session, size: int) -> Iterator[Row]:
    """The redaction ledger (which spans of which text were replaced, why, by whom); never the text."""
    for requests in _batches(session, "redactions", size):
        applications = _by(session, "redaction_applications", "redaction_id", [r["id"] for r in requests])
        application_ids = [a["id"] for rows in applications.values() for a in rows]
        rewrites = _by(session, "redaction_rewrites", "application_id", application_ids)
        for request in requests:
            application = _one(applications, request["id"])
            if application is not None:
                application = {**application, "rewrites": rewrites.get(application["id"], [])}
            request["application"] = application
            yield request
