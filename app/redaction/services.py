"""Redact: replace exact spans of stored text with the mark, so the original bytes leave the database.

The one path that may change history (a revision's text, a cached diff). An editor asks: for published
text the request waits for a second, different editor to confirm; for a draft revision, a comment, an
error report or a contact message it is carried out at once. Carrying it out:

1. writes a ``RedactionApplication`` (the target's next ``sequence``; on a post, this moves the post's
   ``version``, so reader-page caches refresh);
2. rewrites the target's text fields, and what is derived from them (a revision's HTML, a comment's
   HTML and the spam checks' notes), in one UPDATE: for a revision the database checks that statement
   against the application (migration 0008). A revision's stored off-topic passages (labels and vectors)
   are cut again from the redacted words (migration 0032's door), and the post's comments' off-topic
   drivers, which quote a passage's label ("closest to the section '...'"), are rewritten;
3. deletes the cached diffs that were computed from the revision's old text (the database lets only a
   stale diff go) and scrubs copies in the mail outbox;
4. rewrites the copies of the removed text kept elsewhere: in the post's audit entries (a revision's
   note in ``post.revised``), a contact message's staff replies, a comment's moderation decisions and
   Akismet errors, an error report's decision note; each rewrite of a history row is a
   ``RedactionRewrite`` the database checks (migration 0008);
5. retires every address of the post that spelled the identifier (compared on its slugified form): a new
   slug from the redacted title when it was the current one, and the old ``post_slugs`` row deleted, so it
   no longer redirects (a 404 there is right: the URL itself held the identifier);
6. records it in the audit log: who, why, which record, how many characters in how many spans. Never
   the text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from slugify import slugify
from sqlalchemy import Text, cast, delete, exists, func, or_, select, update
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.accounts.permissions import require
from app.audit import services as audit
from app.audit.models import AuditEntry
from app.clock import utc_now
from app.comments import learning
from app.comments.formatting import render_comment
from app.comments.models import Comment, ModerationDecision
from app.contact.models import ContactMessage, ContactReply
from app.corrections.models import ErrorReport, RevisionDiff
from app.db import on_commit
from app.errors import Conflict, InvalidInput, NotAllowed, NotFound
from app.gates.privacy import scan
from app.mail.models import OutboxMessage
from app.media.models import MAX_NAME_CHARS, Media
from app.media.services import image_infos
from app.moderation.models import AkismetSubmission
from app.posts import services as posts
from app.posts.models import Post, PostSlug, Publication, Revision, RevisionMedia
from app.posts.rendering import render_markdown
from app.redaction.models import FIELDS, MARK, Redaction, RedactionApplication, RedactionRewrite, Target
from app.search import services as search
from app.spam import pipeline
from app.text import has_lone_surrogate

MAX_TEXT_CHARS = 1000
MAX_REASON_CHARS = 2000
NOT_FOUND = "That exact text is not in this record (it must match character for character)."
MODELS: dict[str, Any] = {
    Target.REVISION: Revision,
    Target.COMMENT: Comment,
    Target.ERROR_REPORT: ErrorReport,
    Target.CONTACT_MESSAGE: ContactMessage,
}
LABELS = {
    Target.REVISION: "revision",
    Target.COMMENT: "comment",
    Target.ERROR_REPORT: "error report",
    Target.CONTACT_MESSAGE: "contact message",
}


@dataclass(frozen=True)
class Span:
    field: str
    start: int
    end: int


@dataclass(frozen=True)
class Suggestion:
    """A privacy-scan finding offered to the editor: the exact text, and where it is."""

    field: str
    kind: str
    text: str


# --- reading ------------------------------------------------------------------------------------------


def target_of(session: Session, target_table: str, target_id: int, *, lock: bool = False) -> Any:
    model = MODELS.get(target_table)
    if model is None:
        raise InvalidInput(
            "target must be a revision, comment, error report or contact message.", field="target"
        )
    query = select(model).where(model.id == target_id)
    if lock:
        query = query.with_for_update(of=model)
    found = session.scalar(query)
    if found is None:
        raise NotFound(f"No such {LABELS[Target(target_table)]}.")
    return found


def fields_of(target_table: str, record: Any) -> dict[str, str]:
    return {name: getattr(record, name) or "" for name in FIELDS[target_table]}


def locate(fields: dict[str, str], needle: str) -> list[Span]:
    """Every occurrence of ``needle`` in the fields, left to right, never overlapping an earlier mark."""
    spans = []
    for name, value in fields.items():
        marks = _occurrences(value, MARK)
        for start in _occurrences(value, needle):
            end = start + len(needle)
            if not any(start < m + len(MARK) and m < end for m in marks):
                spans.append(Span(name, start, end))
    return spans


def _occurrences(value: str, needle: str) -> list[int]:
    found, at = [], value.find(needle)
    while at != -1:
        found.append(at)
        at = value.find(needle, at + len(needle))
    return found


def suggestions(
    target_table: str, record: Any, extra_terms: Iterable[str] = (), allow: Iterable[str] = ()
) -> list[Suggestion]:
    """What the privacy scan finds in the record's text: offered, never applied by itself."""
    found = []
    for name, value in fields_of(target_table, record).items():
        for finding in scan(value, extra_terms, allow):
            text = value[finding.start : finding.end]
            if text and MARK not in text:
                found.append(Suggestion(name, finding.kind, text))
    return found


def is_published_text(session: Session, target_table: str, record: Any) -> bool:
    """Published revisions need two editors; drafts, comments, reports and messages one."""
    if target_table != Target.REVISION:
        return False
    return bool(session.scalar(select(exists().where(Publication.revision_id == record.id))))


def get(session: Session, redaction_id: int) -> Redaction:
    found = session.get(Redaction, redaction_id)
    if found is None:
        raise NotFound("No such redaction.")
    return found


def application_of(session: Session, redaction: Redaction) -> RedactionApplication | None:
    return session.scalar(
        select(RedactionApplication).where(RedactionApplication.redaction_id == redaction.id)
    )


def pending(session: Session) -> list[Redaction]:
    applied = select(RedactionApplication.redaction_id)
    return list(
        session.scalars(
            select(Redaction).where(Redaction.id.not_in(applied)).order_by(Redaction.requested_at)
        )
    )


def recent(session: Session, limit: int = 50) -> list[tuple[Redaction, RedactionApplication]]:
    rows = session.execute(
        select(Redaction, RedactionApplication)
        .join(RedactionApplication, RedactionApplication.redaction_id == Redaction.id)
        .order_by(RedactionApplication.applied_at.desc(), RedactionApplication.id.desc())
        .limit(limit)
    ).all()
    return [(r, a) for r, a in rows]


def revision_notes(session: Session, revision_ids: list[int]) -> dict[int, list[RedactionApplication]]:
    """For the public history: which revisions had text redacted, and when (never what, nor why)."""
    if not revision_ids:
        return {}
    rows = session.scalars(
        select(RedactionApplication)
        .where(
            RedactionApplication.target_table == Target.REVISION.value,
            RedactionApplication.target_id.in_(revision_ids),
        )
        .order_by(RedactionApplication.applied_at)
    ).all()
    notes: dict[int, list[RedactionApplication]] = {}
    for row in rows:
        notes.setdefault(row.target_id, []).append(row)
    return notes


def _sequence(session: Session, target_table: str, target_id: int) -> int:
    """How many redactions the target has had."""
    return (
        session.scalar(
            select(func.count())
            .select_from(RedactionApplication)
            .where(
                RedactionApplication.target_table == target_table, RedactionApplication.target_id == target_id
            )
        )
        or 0
    )


# --- writing ------------------------------------------------------------------------------------------


def _clean_needle(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidInput("text must be the exact text to redact.", field="text")
    if has_lone_surrogate(value) or "\x00" in value:
        raise InvalidInput("text contains characters that cannot be stored.", field="text")
    if not value.strip():
        raise InvalidInput("Give the exact text to redact.", field="text")
    if len(value) > MAX_TEXT_CHARS:
        raise InvalidInput(f"text is longer than {MAX_TEXT_CHARS} characters.", field="text")
    if MARK in value:
        raise InvalidInput("That text is already redacted.", field="text")
    return value


def _clean_reason(value: object, needle: str) -> str:
    if not isinstance(value, str) or has_lone_surrogate(value) or "\x00" in value:
        raise InvalidInput("reason must be text.", field="reason")
    value = value.strip()
    if not value:
        raise InvalidInput(
            "Say why this must be redacted (the identifier itself is never recorded).", field="reason"
        )
    if len(value) > MAX_REASON_CHARS:
        raise InvalidInput(f"reason is longer than {MAX_REASON_CHARS} characters.", field="reason")
    if needle.strip().casefold() in value.casefold():
        raise InvalidInput("The reason must not repeat the text being redacted.", field="reason")
    return value


def preview(target_table: str, record: Any, *, text: object, reason: object) -> list[Span]:
    """What ``request`` would redact, checked the same way, without writing anything."""
    needle = _clean_needle(text)
    _clean_reason(reason, needle)
    spans = locate(fields_of(target_table, record), needle)
    if not spans:
        raise InvalidInput(NOT_FOUND, field="text")
    return spans


def request(
    session: Session, actor: User, target_table: str, target_id: int, *, text: object, reason: object
) -> Redaction:
    """Ask to redact every occurrence of ``text`` in one record. Applied at once unless it is published
    text, which waits for a second editor (``confirm``)."""
    require(actor, "history.redact")
    needle = _clean_needle(text)
    why = _clean_reason(reason, needle)
    record = target_of(session, target_table, target_id, lock=True)
    spans = locate(fields_of(target_table, record), needle)
    if not spans:
        raise InvalidInput(NOT_FOUND, field="text")
    post_id, number = _post_of(session, target_table, record)
    needs_confirmation = is_published_text(session, target_table, record)
    redaction = Redaction(
        target_table=target_table,
        target_id=record.id,
        post_id=post_id,
        revision_number=number,
        reason=why,
        requested_by_id=actor.id,
        requested_at=utc_now(),
        spans=[[s.field, s.start, s.end] for s in spans],
        span_count=len(spans),
        span_length=sum(s.end - s.start for s in spans),
        base_sequence=_sequence(session, target_table, record.id),
        needs_confirmation=needs_confirmation,
    )
    session.add(redaction)
    session.flush()
    audit.record(
        session,
        actor,
        "redaction.requested",
        post_id=post_id,
        revision_number=number,
        note=why,
        **_facts(redaction),
    )
    if not needs_confirmation:
        _apply(session, actor, redaction, record)
    return redaction


def confirm(session: Session, actor: User, redaction_id: int) -> Redaction:
    """A second editor confirms a pending redaction of published text, which carries it out."""
    require(actor, "history.redact")
    asked = session.get(Redaction, redaction_id)
    if asked is not None and asked.target_table == Target.REVISION and asked.needs_confirmation:
        # Before any other lock: the revision's row lock, held while waiting here, would block the
        # post's update in the redaction ahead of this one (PostgreSQL checks its foreign keys).
        _serialize_on_post(session, asked.post_id)
    redaction = session.scalar(
        select(Redaction).where(Redaction.id == redaction_id).with_for_update(of=Redaction)
    )
    if redaction is None:
        raise NotFound("No such redaction.")
    if application_of(session, redaction) is not None:
        raise Conflict("This redaction has already been carried out.")
    if redaction.requested_by_id == actor.id:
        raise NotAllowed(
            "A second editor must confirm a redaction of published text; you asked for this one."
        )
    record = target_of(session, redaction.target_table, redaction.target_id, lock=True)
    _apply(session, actor, redaction, record)
    return redaction


def _post_of(session: Session, target_table: str, record: Any) -> tuple[int | None, int | None]:
    if target_table == Target.REVISION:
        return record.post_id, record.number
    if target_table in (Target.COMMENT, Target.ERROR_REPORT):
        return record.post_id, None
    return None, None


def _facts(redaction: Redaction) -> dict[str, Any]:
    return {
        "redaction_id": redaction.id,
        "target_table": redaction.target_table,
        "target_id": redaction.target_id,
        "fields": sorted({field for field, _start, _end in redaction.spans}),
        "span_count": redaction.span_count,
        "span_length": redaction.span_length,
    }


def _redacted(value: str, spans: list[Span]) -> str:
    for span in sorted(spans, key=lambda s: s.start, reverse=True):
        value = value[: span.start] + MARK + value[span.end :]
    return value


def _apply(session: Session, actor: User, redaction: Redaction, record: Any) -> None:
    table, target_id = redaction.target_table, redaction.target_id
    retires_addresses = table == Target.REVISION and redaction.needs_confirmation
    if retires_addresses:
        _serialize_on_post(session, redaction.post_id)
    sequence = _sequence(session, table, target_id)
    if sequence != redaction.base_sequence:
        raise Conflict("This text was redacted again since the request; ask for the redaction anew.")
    old = fields_of(table, record)
    spans = [Span(f, s, e) for f, s, e in redaction.spans]
    new = {name: _redacted(value, [s for s in spans if s.field == name]) for name, value in old.items()}
    removed = [old[s.field][s.start : s.end] for s in spans]
    application = RedactionApplication(
        redaction_id=redaction.id,
        target_table=table,
        target_id=target_id,
        requested_by_id=redaction.requested_by_id,
        needs_confirmation=redaction.needs_confirmation,
        applied_by_id=actor.id,
        sequence=sequence + 1,
        post_id=redaction.post_id,
        applied_at=utc_now(),
    )
    session.add(application)
    session.flush()
    images = examples = passages = drivers = 0
    if table == Target.REVISION:
        # The library's words first: the revision is re-rendered with its images' alt text.
        images = _scrub_media(session, record.post_id, removed)
        _rewrite_revision(session, record, new, sequence + 1)
        passages = learning.rewrite_redacted_passages(
            session,
            record,
            (old["title"], old["body"]),
            (new["title"], new["body"]),
            removed,
            sequence + 1,
            MARK,
        )
        drivers = _scrub_comment_drivers(session, record.post_id, removed)
    elif table == Target.COMMENT:
        record.body = new["body"]
        record.html = render_comment(new["body"], max_chars=None)
        # Not its reasons: a fixed vocabulary ("checking", "privacy:phone") holding no reader's words, which
        # the desk's and /metrics' tallies count (a redacted "king" made "checking" another reason).
        _scrub_comment_notes(record, removed)
        examples = learning.rewrite_redacted(session, record.id, new["body"], sequence + 1)
    else:
        for name, value in new.items():
            setattr(record, name, value)
        if table == Target.ERROR_REPORT:
            record.decision_note = _scrub_json(record.decision_note, removed)
        else:
            record.flags = _scrub_json(record.flags, removed)
    session.flush()
    _scrub_outbox(session, removed)
    copies = _rewrite_copies(session, application, removed)
    addresses = 0
    if retires_addresses:
        # Only published titles ever gave an address; a draft's redaction (one editor) never moves one.
        addresses = _retire_slugs(session, application, removed, old["title"], new["title"])
    if session.get_bind().dialect.name == "sqlite":
        on_commit(session, lambda: checkpoint_sqlite(session))
    audit.record(
        session,
        actor,
        "redaction.applied",
        post_id=redaction.post_id,
        revision_number=redaction.revision_number,
        note=redaction.reason,
        requested_by_id=redaction.requested_by_id,
        copies_rewritten=copies,
        images_rewritten=images,
        addresses_retired=addresses,
        offtopic_examples_reencoded=examples,
        post_passages_rewritten=passages,
        comment_drivers_rewritten=drivers,
        **_facts(redaction),
    )


REDACTION_LOCK_CLASS = 0x7264  # the first key of PostgreSQL's advisory lock for redactions of one post


def _serialize_on_post(session: Session, post_id: int | None) -> None:
    """Redactions of one post's published text, one at a time, before either writes: a new slug changes
    a key column of the post's row, and the post's updates re-check its foreign keys to the revisions the
    other redaction locks. On PostgreSQL an advisory lock first, then the row (SQLite's writers already
    take turns). Taken again in ``_apply`` (both are re-entrant), so no path applies without it."""
    if post_id is None:
        return
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(REDACTION_LOCK_CLASS, post_id)))
    session.execute(select(Post.id).where(Post.id == post_id).with_for_update(of=Post))


def _rewrite_revision(session: Session, revision: Revision, new: dict[str, str], count: int) -> None:
    """The one UPDATE of a stored revision (the database checks it against the application just written),
    and the cached diffs computed from its old text, which only now may go."""
    html = render_markdown(new["body"], image_infos(session, new["body"]))
    table = Revision.__table__
    session.execute(
        update(table)
        .where(table.c.id == revision.id)
        .values(title=new["title"], body=new["body"], note=new["note"], html=html, redaction_count=count)
    )
    session.execute(
        delete(RevisionDiff).where(
            or_(RevisionDiff.from_revision_id == revision.id, RevisionDiff.to_revision_id == revision.id)
        )
    )
    session.expire(revision)
    post = session.get(Post, revision.post_id)
    if post is not None and post.published_revision_id == revision.id:
        # The search index quotes the published text: the identifier leaves it with the revision.
        search.index_post(session, post)


def _scrub_comment_drivers(session: Session, post_id: int, removed: list[str]) -> int:
    """The off-topic filter's drivers stored with the post's comments (and its check's detail, which
    quotes them) name the passage a comment was closest to: "closest to the section '...'", a heading of
    the revision. Scored before the redaction, they quote the removed text. Returns how many comments
    changed: the filter also finds the removed text in a key or a check's name ("detail", "honeypot"),
    which stays, so a comment is written and counted only when its quoted words changed."""
    changed = 0
    for comment in session.scalars(
        select(Comment)
        .where(
            Comment.post_id == post_id,
            or_(
                _contains(cast(Comment.relevance_drivers, Text), removed),
                _contains(cast(Comment.checks, Text), removed),
            ),
        )
        .with_for_update(of=Comment)
    ):
        if _scrub_comment_notes(comment, removed):
            changed += 1
    session.flush()
    return changed


def _scrub_comment_notes(comment: Comment, removed: list[str]) -> bool:
    """Scrub the words a comment's checks and off-topic drivers quote: each check's ``detail`` (the reader's
    or the post's words), past the log-mode prefix the desk's filter and the learning read, and each
    driver's label (a passage's heading, a post's title, words shared with the post). Not the keys, nor a
    check's name, verdict or reason codes, nor a driver's weight: a fixed vocabulary holding no one's words,
    which the desk, the jobs and /metrics read back (a redacted "detail" renamed every check's key, a
    redacted "hold" made a verdict no ``CheckVerdict``). Writes only what changed; returns whether it did.
    """
    checks = [_scrub_check(check, removed) for check in comment.checks or ()]
    drivers = [_scrub_driver(driver, removed) for driver in comment.relevance_drivers or ()]
    if checks == list(comment.checks or ()) and drivers == list(comment.relevance_drivers or ()):
        return False
    comment.checks, comment.relevance_drivers = checks, drivers
    return True


def _scrub_check(check: Any, removed: list[str]) -> Any:
    """A stored ``CheckResult.as_dict()`` with its ``detail`` scrubbed, the rest as it was."""
    if not isinstance(check, dict) or not isinstance(check.get("detail"), str):
        return check
    detail = check["detail"]
    kept = pipeline.LOGGED if detail.startswith(pipeline.LOGGED) else ""
    return {**check, "detail": kept + _scrub_json(detail[len(kept) :], removed)}


def _scrub_driver(driver: Any, removed: list[str]) -> Any:
    """A stored driver, ``[label, weight]``, with its label scrubbed and its weight as it was."""
    if not isinstance(driver, list) or not driver or not isinstance(driver[0], str):
        return driver
    return [_scrub_json(driver[0], removed), *driver[1:]]


def _scrub_media(session: Session, post_id: int, removed: list[str]) -> int:
    """The media library's alt text and names (the caption the desk shows) of every image a revision of
    the post shows: an identifier written there would otherwise come back on the page, filled in for an
    image whose Markdown gives no alt. Returns how many images changed."""
    shown = (
        select(RevisionMedia.media_id)
        .join(Revision, Revision.id == RevisionMedia.revision_id)
        .where(Revision.post_id == post_id)
    )
    changed = 0
    for media in session.scalars(
        select(Media)
        .where(Media.id.in_(shown), or_(_contains(Media.alt, removed), _contains(Media.name, removed)))
        .with_for_update(of=Media)
    ):
        alt, name = _scrub_json(media.alt, removed), _scrub_json(media.name, removed)
        if (alt, name) != (media.alt, media.name):
            media.alt, media.name = alt, name[:MAX_NAME_CHARS]
            changed += 1
    session.flush()
    return changed


def _scrub_json(value: Any, removed: list[str]) -> Any:
    if isinstance(value, str):
        for text in removed:
            value = value.replace(text, MARK)
        return value
    if isinstance(value, list):
        return [_scrub_json(v, removed) for v in value]
    if isinstance(value, dict):
        return {_scrub_json(k, removed): _scrub_json(v, removed) for k, v in value.items()}
    return value


def _contains(column: Any, removed: list[str]) -> Any:
    """A filter for rows whose ``column`` (as text) may hold any of ``removed``, also as JSON escapes it."""
    forms = {form for text in removed for form in (text, json.dumps(text)[1:-1])}
    return or_(*(column.contains(form, autoescape=True) for form in forms))


def _rewrite_history_rows(
    session: Session,
    application: RedactionApplication,
    model: Any,
    where: Any,
    columns: tuple[str, ...],
    removed: list[str],
) -> int:
    """Rewrite copies in an append-only table: for each row that holds one, a ``RedactionRewrite`` first,
    then the one UPDATE the database lets through for it (text columns only, count moved by one). The
    rows are locked first: a second redaction at the same moment waits, then finds them already clean.
    Returns how many rows were rewritten."""
    table = model.__table__
    text_filter = or_(*(_contains(cast(table.c[name], Text), removed) for name in columns))
    rows = session.execute(
        select(table.c.id, table.c.redaction_count, *(table.c[name] for name in columns))
        .where(where, text_filter)
        .with_for_update(of=table)
    ).all()
    rewritten = set()
    for row in rows:
        values = {name: _scrub_json(getattr(row, name), removed) for name in columns}
        if all(values[name] == getattr(row, name) for name in columns):
            continue  # a false match of the prefilter (e.g. an escape that was not the text)
        sequence = row.redaction_count + 1
        session.add(
            RedactionRewrite(
                application_id=application.id, table_name=table.name, row_id=row.id, sequence=sequence
            )
        )
        session.flush()
        session.execute(update(table).where(table.c.id == row.id).values(**values, redaction_count=sequence))
        rewritten.add(row.id)
    for obj in list(session.identity_map.values()):
        if isinstance(obj, model) and obj.id in rewritten:
            session.expire(obj)
    return len(rewritten)


def _rewrite_copies(session: Session, application: RedactionApplication, removed: list[str]) -> int:
    """The copies of the removed text kept with the record: audit entries of the post (a revision's note in
    ``post.revised``, a note quoting it), staff replies to a contact message, moderation decisions'
    reasons and Akismet errors of a comment."""
    target, target_id = application.target_table, application.target_id
    count = 0
    if application.post_id is not None:
        count += _rewrite_history_rows(
            session,
            application,
            AuditEntry,
            AuditEntry.post_id == application.post_id,
            ("note", "data"),
            removed,
        )
    if target == Target.CONTACT_MESSAGE:
        count += _rewrite_history_rows(
            session, application, ContactReply, ContactReply.message_id == target_id, ("body",), removed
        )
    if target == Target.COMMENT:
        count += _rewrite_history_rows(
            session,
            application,
            ModerationDecision,
            ModerationDecision.comment_id == target_id,
            ("reason", "reasons"),
            removed,
        )
        for submission in session.scalars(
            select(AkismetSubmission).where(AkismetSubmission.comment_id == target_id)
        ):
            submission.last_error = _scrub_json(submission.last_error, removed)
    session.flush()
    return count


def _spells(slug: str, removed_slugs: set[str], old_base: str | None) -> bool:
    """Whether an address holds the identifier: its slugified form as whole words, or the slug the old
    title gave (perhaps cut at 80 characters, perhaps with a "-2" after it)."""
    padded = f"-{slug}-"
    if any(f"-{words}-" in padded for words in removed_slugs):
        return True
    return old_base is not None and re.fullmatch(re.escape(old_base) + r"(-\d+)?", slug) is not None


def _retire_slugs(
    session: Session, application: RedactionApplication, removed: list[str], old_title: str, new_title: str
) -> int:
    """Every address of the post that spelled the identifier goes: a new current slug from the redacted
    title, the old rows deleted (each checked against a ``RedactionRewrite``). Returns how many."""
    post = session.scalar(
        select(Post)
        .where(Post.id == application.post_id)
        .with_for_update(of=Post)
        .execution_options(populate_existing=True)
    )
    if post is None or post.slug is None:
        return 0
    removed_slugs = {words for words in map(slugify, removed) if words}
    old_base = posts.slug_base(old_title)
    old_base = old_base if old_base != posts.slug_base(new_title) else None
    rows = session.scalars(select(PostSlug).where(PostSlug.post_id == post.id).order_by(PostSlug.id)).all()
    retired = [row for row in rows if _spells(row.slug, removed_slugs, old_base)]
    if not retired:
        return 0
    gone = {row.slug for row in retired}
    if post.slug in gone:
        published = session.get(Revision, post.published_revision_id)
        title = published.title if published is not None else new_title
        for text in removed:
            title = title.replace(text, MARK)
        fresh = _fresh_slug(session, post, title, gone)
        _rename_in_copies(session, post.id, post.slug, fresh)
        post.slug = fresh
        session.flush()
    for row in retired:
        session.add(
            RedactionRewrite(
                application_id=application.id, table_name="post_slugs", row_id=row.id, sequence=1
            )
        )
    session.flush()
    session.execute(
        delete(PostSlug.__table__).where(PostSlug.__table__.c.id.in_([row.id for row in retired]))
    )
    for row in retired:
        session.expunge(row)
    for slug in gone - {post.slug}:
        _rename_in_copies(session, post.id, slug, post.slug)
    return len(retired)


def _fresh_slug(session: Session, post: Post, title: str, gone: set[str]) -> str:
    """A new address for the post from its redacted title, never one of those going. As
    ``posts.reserve_slug``, without its savepoint: the post's row is locked here, and on PostgreSQL a
    savepoint that updates a locked row another redaction waits on deadlocks. Another post taking the
    same address at the same moment fails the request with 409."""
    base = posts.slug_base(title)
    n = 1
    while True:
        slug = base if n == 1 else f"{base}-{n}"
        owner = session.scalar(select(PostSlug.post_id).where(PostSlug.slug == slug))
        if owner == post.id and slug not in gone:
            return slug
        if owner is None:
            session.add(PostSlug(post_id=post.id, slug=slug, created_at=utc_now()))
            session.flush()
            return slug
        n += 1


def _rename_in_copies(session: Session, post_id: int, old: str, new: str) -> None:
    """Links to a retired address in stored copies (queued e-mail, a comment's permalink and referrer)
    point to the new one."""
    if old == new:
        return
    path_old, path_new = f"/posts/{old}", f"/posts/{new}"
    pattern = re.compile(re.escape(path_old) + r"(?![A-Za-z0-9-])")
    for message in session.scalars(
        select(OutboxMessage).where(OutboxMessage.body.contains(path_old, autoescape=True))
    ):
        message.body = pattern.sub(path_new, message.body)
    for comment in session.scalars(
        select(Comment).where(
            Comment.post_id == post_id,
            or_(
                Comment.permalink.contains(path_old, autoescape=True),
                Comment.referrer.contains(path_old, autoescape=True),
            ),
        )
    ):
        comment.permalink = pattern.sub(path_new, comment.permalink)[:2000]
        comment.referrer = pattern.sub(path_new, comment.referrer)[:2000]
    session.flush()


def _scrub_outbox(session: Session, removed: list[str]) -> None:
    """E-mail already queued or sent keeps a copy of what it quoted: replace it there too."""
    for text in set(removed):
        rows = session.scalars(
            select(OutboxMessage).where(
                or_(
                    OutboxMessage.body.contains(text, autoescape=True),
                    OutboxMessage.subject.contains(text, autoescape=True),
                )
            )
        ).all()
        for message in rows:
            message.body = message.body.replace(text, MARK)
            message.subject = message.subject.replace(text, MARK)[:300]


def checkpoint_sqlite(session: Session) -> None:
    """After a redaction commits on SQLite: copy the write-ahead log into the database file and empty it,
    so the old page images it held (with the redacted text) are gone too. Best effort: a reader holding
    an old snapshot keeps the log until it finishes; the next checkpoint then does it."""
    with session.get_bind().connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
