"""Propose and decide external sites; say which are approved; find a post's use of unapproved ones.

Two keys, as the ethics code asks ("approved by Public Affairs in conjunction with the Office for
Compliance"): a site is approved while the latest Public Affairs decision and the latest Compliance
decision on it are both approvals, given by two different people. A revocation in either capacity ends
the approval until that capacity approves again. Every proposal and decision is audited.

What counts as using an external site (the rule the ``external_sites`` gate applies, see README):

* an **embed**: a web address alone in its own paragraph, whose host is in the registry or is a known
  embedding provider (``EMBED_PROVIDERS``: video, photo sharing, maps and social sites). Readers see an
  embed only for an approved site; any other embed in an official post fails the gate;
* a **link** to a host that is in the registry but not approved (proposed, half-approved or revoked).

An ordinary link to any other site (a journal, a government page, a news story) is a citation, which the
code asks for ("link directly to online references and original source materials"): it is not the use of
an external site for work, and is never held up here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.accounts.permissions import require
from app.audit import services as audit
from app.clock import utc_now
from app.errors import Conflict, InvalidInput, NotAllowed, NotFound
from app.posts.models import CHANGED_ALL, Post, PublicationState, bump_stamps
from app.sites.models import Capacity, ExternalSite, SiteDecision, SiteKind, Verdict
from app.text import clean_text

REGISTRY_LOCK = 0x7369  # PostgreSQL advisory lock key: one proposal at a time, so no host is registered twice
MAX_HOSTS = 20
MAX_NOTE = 2000
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# A paragraph that is nothing but one link whose text is its own address: a URL alone on its own line
# (autolinked bare, or written <https://...>), as the sanitiser stores it.
_ALONE = re.compile(r'<p><a href="(https?://[^"]+)" rel="nofollow noopener">([^<]+)</a></p>', re.IGNORECASE)
_HREF = re.compile(r'<a href="(https?://[^"]+)"', re.IGNORECASE)

# Hosts that offer oEmbed-style embeds. An address of theirs alone on a line is an embed, whether or not
# anyone has registered the site yet; so an unregistered one is caught by the gate, not shown as a link.
# fmt: off
EMBED_PROVIDERS = (
    "youtube.com", "youtu.be", "youtube-nocookie.com", "vimeo.com", "dailymotion.com", "twitch.tv",
    "tiktok.com", "loom.com", "wistia.com", "flickr.com", "flic.kr", "imgur.com", "instagram.com",
    "pinterest.com", "giphy.com", "500px.com", "smugmug.com", "photos.google.com", "photos.app.goo.gl",
    "maps.google.com", "maps.app.goo.gl", "openstreetmap.org", "bing.com", "facebook.com", "fb.watch",
    "twitter.com", "x.com", "threads.net", "bsky.app", "linkedin.com", "reddit.com", "mastodon.social",
    "soundcloud.com", "spotify.com", "slideshare.net", "scribd.com",
)
# fmt: on

STATUS_LABELS = {
    "proposed": "Proposed: no decision yet",
    "awaiting_compliance": "Approved by Public Affairs; awaiting Compliance",
    "awaiting_public_affairs": "Approved by Compliance; awaiting Public Affairs",
    "approved": "Approved by Public Affairs and Compliance",
    "revoked": "Revoked",
}
CAPACITY_LABELS = {Capacity.PUBLIC_AFFAIRS: "Public Affairs", Capacity.COMPLIANCE: "Compliance"}
DECISION_PERMISSION = {
    Capacity.PUBLIC_AFFAIRS: "sites.decide_public_affairs",
    Capacity.COMPLIANCE: "sites.decide_compliance",
}


def normalise_host(raw: str) -> str:
    """A host pattern as stored and compared: lower case, ASCII (IDNA), no scheme, port, path or dot at
    the end. Look-alike letters become their own ``xn--`` name, so they never match the real site."""
    text = raw.strip().lower()
    if "://" in text:
        text = urlsplit(text).hostname or ""
    text = text.removeprefix("www.").rstrip(".")
    try:
        ascii_host = text.encode("idna").decode("ascii")
    except UnicodeError:
        raise InvalidInput(f"{raw.strip()[:80]!r} is not a host name.", field="hosts") from None
    labels = ascii_host.split(".")
    if len(labels) < 2 or len(ascii_host) > 253 or not all(_LABEL.match(label) for label in labels):
        raise InvalidInput(
            f"{raw.strip()[:80]!r} is not a host name such as youtube.com (one per line).", field="hosts"
        )
    return ascii_host


def host_of(url: str) -> str | None:
    """The normalised host of an http(s) address, or None."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    try:
        return host.rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError:
        return host.rstrip(".").lower()


def _covers(pattern: str, host: str) -> bool:
    return host == pattern or host.endswith("." + pattern)


@dataclass
class SiteStatus:
    site: ExternalSite
    decisions: list[SiteDecision] = field(default_factory=list)  # oldest first

    def latest(self, capacity: Capacity) -> SiteDecision | None:
        mine = [d for d in self.decisions if d.capacity == capacity]
        return mine[-1] if mine else None

    @property
    def status(self) -> str:
        pa, co = self.latest(Capacity.PUBLIC_AFFAIRS), self.latest(Capacity.COMPLIANCE)
        verdicts = {d.verdict if d else None for d in (pa, co)}
        if Verdict.REVOKE in verdicts:
            return "revoked"
        if pa and co:
            return "approved"
        if pa:
            return "awaiting_compliance"
        return "awaiting_public_affairs" if co else "proposed"

    @property
    def approved(self) -> bool:
        return self.status == "approved"

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    def embed_href(self, url: str) -> str:
        """Where the reader's click on an embed goes: the site's embed template, or the address itself."""
        template = self.site.embed_template
        return template.replace("{url}", quote(url, safe="")) if template else url


@dataclass
class Registry:
    entries: list[SiteStatus]

    def match(self, host: str | None) -> SiteStatus | None:
        """The entry whose pattern covers ``host`` most specifically."""
        if not host:
            return None
        found = [(len(p), e) for e in self.entries for p in e.site.host_list if _covers(p, host)]
        return max(found, key=lambda pair: pair[0])[1] if found else None

    def embed(self, url: str) -> SiteStatus | None:
        """The approved site an address alone on a line embeds, or None (it stays a plain link)."""
        entry = self.match(host_of(url))
        return entry if entry is not None and entry.approved else None


def registry(session: Session) -> Registry:
    sites = session.scalars(select(ExternalSite).order_by(ExternalSite.name, ExternalSite.id)).all()
    entries = {s.id: SiteStatus(s) for s in sites}
    for decision in session.scalars(select(SiteDecision).order_by(SiteDecision.id)):
        entries[decision.site_id].decisions.append(decision)
    return Registry(list(entries.values()))


def get_site(session: Session, site_id: int) -> SiteStatus:
    for entry in registry(session).entries:
        if entry.site.id == site_id:
            return entry
    raise NotFound("No such external site.")


def may_embed(html: str) -> bool:
    """Whether ``html`` has an address alone in a paragraph at all (most posts do not: no query then)."""
    return _ALONE.search(html) is not None


def split_embeds(html: str, reg: Registry) -> list[str | tuple[SiteStatus, str]]:
    """Sanitised HTML cut around embeds of approved sites: HTML strings and ``(site, url)`` pairs."""
    parts: list[str | tuple[SiteStatus, str]] = []
    last = 0
    for m in _ALONE.finditer(html):
        url = m.group(1)
        entry = reg.embed(url) if m.group(1) == m.group(2) else None
        if entry is None:
            continue
        parts += [html[last : m.start()], (entry, url.replace("&amp;", "&"))]
        last = m.end()
    parts.append(html[last:])
    return [p for p in parts if p != ""]


def findings(html: str, reg: Registry) -> list[str]:
    """What in a post's sanitised HTML uses an external site that is not approved, one line each."""
    found: dict[str, str] = {}
    for m in _ALONE.finditer(html):
        host = host_of(m.group(1)) if m.group(1) == m.group(2) else None
        if host and reg.match(host) is None and any(_covers(p, host) for p in EMBED_PROVIDERS):
            found.setdefault(
                host,
                f"An embed from {host}: this site is not in the external sites registry. Propose it for "
                "approval, or link to the source instead.",
            )
    for m in _HREF.finditer(html):
        entry = reg.match(host_of(m.group(1)))
        if entry is not None and not entry.approved:
            found.setdefault(
                entry.site.name,
                f"{entry.site.name} ({', '.join(entry.site.host_list)}) is not approved for use: "
                f"{entry.status_label.lower()}.",
            )
    return list(found.values())


def _note(raw: str) -> str:
    note = clean_text(raw, "note", max_chars=MAX_NOTE, required=False, multiline=True).strip()
    if not note:
        raise InvalidInput("Write a note saying why.", field="note")
    return note


def _embed_template(raw: str) -> str:
    template = (raw or "").strip()
    if not template:
        return ""
    parts = urlsplit(template)
    if parts.scheme != "https" or not parts.hostname or len(template) > 500 or '"' in template:
        raise InvalidInput(
            "The embed template must be an https:// address (at most 500 characters); {url} in it stands "
            "for the address written in the post.",
            field="embed_template",
        )
    return template


def propose(
    session: Session, actor: User, *, name: str, kind: str, hosts: str, embed_template: str = "", note: str
) -> ExternalSite:
    """Register a site for approval. Its hosts may not overlap any registered site's."""
    require(actor, "sites.propose")
    name = clean_text(name, "name", max_chars=120)
    if kind not in {k.value for k in SiteKind}:
        raise InvalidInput("Choose the kind of site: video, photo, maps or social.", field="kind")
    if not isinstance(hosts, str) or len(hosts) > 4000:
        raise InvalidInput("Give the host names as text, one per line.", field="hosts")
    patterns = list(dict.fromkeys(normalise_host(h) for h in re.split(r"[\s,]+", hosts) if h))
    if not patterns:
        raise InvalidInput("Give at least one host name, such as youtube.com.", field="hosts")
    if len(patterns) > MAX_HOSTS:
        raise InvalidInput(f"At most {MAX_HOSTS} host names per site.", field="hosts")
    template, note = _embed_template(embed_template), _note(note)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(REGISTRY_LOCK)))
    reg = registry(session)
    for entry in reg.entries:
        if entry.site.name.casefold() == name.casefold():
            raise Conflict(f"{entry.site.name} is already in the registry.")
        taken = [p for p in patterns for q in entry.site.host_list if _covers(q, p) or _covers(p, q)]
        if taken:
            raise Conflict(f"{', '.join(taken)} is already covered by {entry.site.name}.")
    site = ExternalSite(
        name=name,
        kind=kind,
        hosts=" ".join(patterns),
        embed_template=template,
        note=note,
        proposed_by_id=actor.id,
        proposed_at=utc_now(),
    )
    session.add(site)
    session.flush()
    audit.record(session, actor, "site.proposed", note=note, site_id=site.id, name=name, hosts=patterns)
    return site


def decide(
    session: Session, actor: User, site_id: int, *, capacity: str, verdict: str, note: str
) -> SiteDecision:
    """One approval or revocation. The same person never holds both keys of one approval."""
    try:
        cap, ver = Capacity(capacity), Verdict(verdict)
    except ValueError:
        raise InvalidInput("Choose a capacity and a decision.", field="capacity") from None
    require(actor, DECISION_PERMISSION[cap])
    note = _note(note)
    # Decisions on one site take turns (its row locked on PostgreSQL; SQLite's writer holds the database),
    # so two keys turned at once by one person cannot both see the other still unturned.
    query = select(ExternalSite.id).where(ExternalSite.id == site_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    if session.scalar(query) is None:
        raise NotFound("No such external site.")
    entry = get_site(session, site_id)
    mine, other = (
        entry.latest(cap),
        entry.latest(Capacity.COMPLIANCE if cap == Capacity.PUBLIC_AFFAIRS else Capacity.PUBLIC_AFFAIRS),
    )
    if mine is not None and mine.verdict == ver:
        done = "approved" if ver == Verdict.APPROVE else "revoked"
        raise Conflict(f"{entry.site.name} is already {done} for {CAPACITY_LABELS[cap]}.")
    if (
        ver == Verdict.APPROVE
        and other
        and other.verdict == Verdict.APPROVE
        and other.decided_by_id == actor.id
    ):
        raise NotAllowed(
            "You gave this site's other approval: the second approval must come from someone else."
        )
    was_approved = entry.approved
    decision = SiteDecision(
        site_id=site_id,
        capacity=cap.value,
        verdict=ver.value,
        decided_by_id=actor.id,
        decided_at=utc_now(),
        note=note,
    )
    session.add(decision)
    session.flush()
    entry.decisions.append(decision)
    audit.record(
        session,
        actor,
        f"site.{ver.value}",
        note=note,
        site_id=site_id,
        name=entry.site.name,
        capacity=cap.value,
    )
    if entry.approved != was_approved:
        # Every public post that embeds this site now shows (or stops showing) the embed: move the
        # version that reader-page caches key on. Rare, and a single statement.
        session.execute(
            update(Post)
            .where(Post.publication_state != PublicationState.NEVER_PUBLISHED.value)
            .values(version=Post.version + 1)
            .execution_options(synchronize_session=False)
        )
        bump_stamps(session, "posts", "embeds")
        session.info[CHANGED_ALL] = True
    return decision
