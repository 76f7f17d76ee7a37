"""Authors and topics of a WordPress export: staff accounts and the editors' topic list."""

from __future__ import annotations

import secrets

from slugify import slugify
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.accounts.models import Role, User, UserRole
from app.audit.services import record
from app.clock import utc_now
from app.importer.keys import Keys
from app.importer.models import ItemKind, TopicParent
from app.importer.report import Report
from app.posts.models import Topic
from app.wordpress import records as wp

IMPORTER_EMAIL = "wordpress-import@candor.invalid"
IMPORTER_NAME = "WordPress import"
MAX_TOPIC_CHARS = 80


def importer_account(session: Session) -> User:
    """The import's own account: the approver on record of every imported publication (it wrote none of
    them, so four eyes hold), inactive, with no role and no password, so nobody can act as it."""
    user = session.scalar(select(User).where(User.email == IMPORTER_EMAIL))
    if user is None:
        user = User(
            email=IMPORTER_EMAIL,
            name=IMPORTER_NAME,
            password_hash="!no-password:" + secrets.token_hex(16),
            is_active=False,
        )
        session.add(user)
        session.flush()
    return user


def _one_line(value: str) -> str:
    return " ".join(value.split())


def author(session: Session, keys: Keys, a: wp.Author) -> tuple[int, str, str]:
    """The staff account for ``a``: (user id, outcome, why). Matched by e-mail (case-insensitive) to
    existing staff; otherwise a new author, inactive until an admin activates them or they sign in by
    single sign-on. Names may span lines in an export: kept on one."""
    login = a.login or "unknown"
    found = keys.find(ItemKind.AUTHOR, login)
    if found is not None:
        return found, "unchanged", ""
    email = (a.email or "").strip().lower()
    valid = "@" in email and "." in email.partition("@")[2] and " " not in email and len(email) <= 320
    first, last = _one_line(a.first_name), _one_line(a.last_name)
    name = _one_line(a.display_name) or _one_line(f"{first} {last}") or login
    data = {"login": login, "first_name": first, "last_name": last, "display_name": _one_line(a.display_name)}
    if valid:
        existing = session.scalar(select(User).where(func.lower(User.email) == email))
        if existing is not None:
            keys.add(ItemKind.AUTHOR, login, existing.id, **data)
            return existing.id, "matched", f"matched to existing staff {existing.email}"
    else:
        slug = slugify(login, max_length=60) or "author"
        email = f"{slug}@wordpress.invalid"
        n = 1
        while session.scalar(select(User.id).where(User.email == email)) is not None:
            n += 1
            email = f"{slug}-{n}@wordpress.invalid"
    user = User(
        email=email,
        name=name[:200],
        password_hash="!no-password:" + secrets.token_hex(16),
        is_active=False,
        role_rows=[UserRole(role=Role.AUTHOR.value)],
    )
    session.add(user)
    session.flush()
    keys.add(ItemKind.AUTHOR, login, user.id, **data)
    record(session, None, "user.imported", user_id=user.id, email=email, login=login)
    why = "" if valid else f"no usable e-mail in the export: given {email} until an admin sets one"
    return user.id, "imported", why


class Terms:
    """Categories and tags as topics; a category's parent is linked once every category is known."""

    def __init__(self, session: Session, report: Report, importer: User):
        self.session, self.report, self.importer = session, report, importer
        self.parents: list[tuple[str, str, int]] = []  # (key, parent key, line)
        # The topics items are filed under, held for the run (the identity map holds objects weakly and
        # would load them again for every post); an export has a few hundred at most.
        self.topics: dict[int, Topic] = {}

    def category(self, keys: Keys, c: wp.Category) -> int:
        topic_id = self._term(keys, f"category:{c.nicename}", c.name or c.nicename, c.line, True)
        if c.parent:
            self.parents.append((f"category:{c.nicename}", f"category:{c.parent}", c.line))
        return topic_id

    def tag(self, keys: Keys, t: wp.Tag) -> int:
        return self._term(keys, f"post_tag:{t.slug}", t.name or t.slug, t.line, True)

    def of_item(self, keys: Keys, item: wp.Item) -> list[Topic]:
        ids: list[int] = []
        for term in item.terms:
            # WXR 1.0 writes tags as domain="tag", and plain <category> elements with no domain at all.
            domain = {"": "category", "tag": "post_tag"}.get(term.domain, term.domain)
            if domain not in ("category", "post_tag"):
                continue
            slug = term.nicename or slugify(term.name)
            if not slug:
                continue
            ids.append(self._term(keys, f"{domain}:{slug}", term.name or slug, item.line))
        for i in dict.fromkeys(ids):
            if i not in self.topics:
                topic = self.session.get(Topic, i)
                if topic is not None:
                    self.topics[i] = topic
        return [self.topics[i] for i in dict.fromkeys(ids) if i in self.topics]

    def _term(self, keys: Keys, key: str, name: str, line: int, declared: bool = False) -> int:
        """The topic for a term; ``declared``: named in the export's header (counted even when known)."""
        found = keys.find(ItemKind.TERM, key)
        if found is not None:
            if declared:
                self.report.count("topic", "unchanged")
            return found
        clean = _one_line(name)[:MAX_TOPIC_CHARS] or key.partition(":")[2][:MAX_TOPIC_CHARS] or "topic"
        folded = clean.casefold()
        existing = next(
            (i for i, n in self.session.execute(select(Topic.id, Topic.name)) if n.casefold() == folded), None
        )
        if existing is not None:
            keys.add(ItemKind.TERM, key, existing)
            self.report.count("topic", "matched")
            return existing
        base = slugify(clean, max_length=90, word_boundary=True) or slugify(key.partition(":")[2]) or "topic"
        slug, n = base, 1
        while self.session.scalar(select(Topic.id).where(Topic.slug == slug)) is not None:
            n += 1
            slug = f"{base}-{n}"
        topic = Topic(name=clean, slug=slug, created_at=utc_now(), created_by_id=self.importer.id)
        self.session.add(topic)
        self.session.flush()
        keys.add(ItemKind.TERM, key, topic.id)
        record(self.session, self.importer, "topic.created", topic_id=topic.id, name=clean, slug=slug)
        self.report.count("topic", "imported")
        return topic.id

    def link_parents(self, keys: Keys) -> None:
        for key, parent_key, line in self.parents:
            topic_id, parent_id = keys.find(ItemKind.TERM, key), keys.find(ItemKind.TERM, parent_key)
            if topic_id is None or parent_id is None or topic_id == parent_id:
                self.report.note("topic", "warning", f"parent {parent_key} is not in the export", line=line)
                continue
            if self.session.get(TopicParent, topic_id) is None:
                self.session.add(TopicParent(topic_id=topic_id, parent_id=parent_id))
        self.session.flush()
