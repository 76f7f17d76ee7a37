"""The publishing gates: every rule of the ethics code that a machine can check before a post goes out.

``evaluate`` runs every gate and returns every result, so an author sees the whole checklist at once
(and submit's 422 lists every failing gate, not just the first). An editor's override, recorded with a
justification for one revision, lets a failing overridable gate pass; the finding still shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import utc_now
from app.disclosures import services as disclosures
from app.editorial.models import OVERRIDABLE, Gate, GateOverride
from app.gates import links, phones, privacy
from app.media import services as media
from app.posts.models import Post, Revision, Topic
from app.sites import services as sites


@dataclass(frozen=True)
class GateSettings:
    coi_max_age_days: int = 365
    extra_link_hosts: tuple[str, ...] = ()
    privacy_terms: tuple[str, ...] = ()
    privacy_allow: tuple[str, ...] = ()
    outbound_allow: tuple[str, ...] = ()
    phone_region: str = phones.DEFAULT_REGION
    phone_regions: tuple[str, ...] = phones.DEFAULT_OTHER_REGIONS

    @classmethod
    def from_config(cls, config: Any) -> GateSettings:
        return cls(
            coi_max_age_days=config["CANDOR_COI_MAX_AGE_DAYS"],
            extra_link_hosts=tuple(config.get("BLOCKED_LINK_HOSTS", ())),
            privacy_terms=tuple(config.get("PRIVACY_TERMS", ())),
            privacy_allow=tuple(config.get("PRIVACY_ALLOW", ())),
            outbound_allow=tuple(config.get("OUTBOUND_ALLOW", ())),
            phone_region=config.get("PHONE_REGION", phones.DEFAULT_REGION),
            phone_regions=tuple(config.get("PHONE_REGIONS", phones.DEFAULT_OTHER_REGIONS)),
        )


@dataclass
class GateResult:
    gate: Gate
    ok: bool
    message: str
    details: list[str] = field(default_factory=list)
    override: GateOverride | None = None

    @property
    def passes(self) -> bool:
        return self.ok or self.override is not None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "gate": self.gate.value,
            "ok": self.passes,
            "message": self.message,
            "details": self.details,
        }
        if self.override is not None:
            data["overridden"] = {
                "by": self.override.editor.name,
                "justification": self.override.justification,
                "at": self.override.at.isoformat(),
            }
        return data


def _identity(post: Post) -> GateResult:
    author = post.author
    missing = [
        label
        for label, value in (("job title", author.title), ("department", author.department))
        if not value.strip()
    ]
    if missing:
        return GateResult(
            Gate.IDENTITY,
            False,
            f"The author's profile needs a {' and a '.join(missing)}: bylines show who wrote a post "
            "and their role.",
        )
    return GateResult(Gate.IDENTITY, True, f"Byline: {author.name}, {author.title}, {author.department}.")


def _disclosure(
    session: Session, post: Post, settings: GateSettings, touches_interests: bool | None
) -> GateResult:
    latest = disclosures.latest(session, post.author)
    if latest is None:
        return GateResult(
            Gate.DISCLOSURE,
            False,
            "The author has no conflict-of-interest disclosure on file; record one first.",
        )
    if not disclosures.is_current(latest, settings.coi_max_age_days):
        return GateResult(
            Gate.DISCLOSURE,
            False,
            f"The author's disclosure is older than {settings.coi_max_age_days} days; "
            "renew it before submitting.",
        )
    if not latest.no_conflicts and touches_interests is None:
        return GateResult(
            Gate.DISCLOSURE,
            False,
            "Say whether this post touches any interest in your disclosure "
            "(touches_interests: true or false).",
            [latest.summary()],
        )
    return GateResult(Gate.DISCLOSURE, True, "A current disclosure is on file.", [latest.summary()])


def _references(post: Post, revision: Revision) -> GateResult:
    if revision.references:
        return GateResult(Gate.REFERENCES, True, f"{len(revision.references)} reference(s) cited.")
    if post.is_page:  # About, a policy: the organisation's own words, with nothing to source
        return GateResult(Gate.REFERENCES, True, "A page needs no references.")
    return GateResult(
        Gate.REFERENCES, False, "Cite at least one source: add a link to the original material."
    )


def _post_links(revision: Revision) -> list[str]:
    return [url for url in links.extract_links(revision.html) if not url.startswith(("mailto:", "#", "/"))]


def _direct_links(revision: Revision, settings: GateSettings) -> GateResult:
    allow = settings.outbound_allow
    problems = links.find_indirect(list(revision.references), settings.extra_link_hosts, allow_private=allow)
    problems += links.find_indirect(
        _post_links(revision), settings.extra_link_hosts, allow_relative=True, allow_private=allow
    )
    if problems:
        message = "Link directly to sources, not through shorteners or redirects."
        if any(p.private for p in problems):
            message = (
                "Link directly to public sources: not through shorteners or redirects, and not to "
                "private, local or internal addresses, which readers cannot reach."
            )
        return GateResult(Gate.DIRECT_LINKS, False, message, [f"{p.url}: {p.reason}" for p in problems])
    return GateResult(Gate.DIRECT_LINKS, True, "Every link goes directly to its source.")


def _privacy(revision: Revision, settings: GateSettings) -> GateResult:
    def scan(text: str) -> list[privacy.Finding]:
        return privacy.scan(
            text,
            settings.privacy_terms,
            settings.privacy_allow,
            region=settings.phone_region,
            other_regions=settings.phone_regions,
        )

    details = [f"In the title: {privacy.describe(f)}" for f in scan(revision.title)]
    details += [privacy.describe(f) for f in scan(revision.body)]
    if details:
        return GateResult(
            Gate.PRIVACY,
            False,
            "The text may identify a patient. Remove the identifiers, or ask an editor to "
            "override with a justification (for example, written consent on file).",
            details,
        )
    return GateResult(Gate.PRIVACY, True, "No patient identifiers found.")


def _media_alt(session: Session, revision: Revision) -> GateResult:
    shown = media.shown_images(revision.html)
    found = media.by_hashes(session, {image.sha256 for image in shown})
    details = []
    for image in shown:
        item = found.get(image.sha256)
        if item is None:
            details.append(f"{image.src}: not in the media library; upload the image again.")
        elif not image.alt.strip() and not item.decorative:
            details.append(
                f"{item.label} has no alt text: describe it in the Markdown, ![what it shows]({item.path}), "
                "or mark it decorative in the media library."
            )
    if details:
        return GateResult(
            Gate.MEDIA_ALT, False, "Every image needs alt text for readers who cannot see it.", details
        )
    return GateResult(Gate.MEDIA_ALT, True, f"{len(shown)} image(s), each described or decorative.")


def _media_consent(session: Session, revision: Revision) -> GateResult:
    today = utc_now().date()
    found = media.by_hashes(session, media.referenced_hashes(revision.html))
    patients = {m.id: m for m in found.values() if m.shows_patient}
    details = [
        f"{item.label} shows a patient and has no current consent for the web: record the signed "
        "consent form in the media library."
        for item in sorted(patients.values(), key=lambda m: m.id)
        if not media.has_consent(session, item, today)
    ]
    if details:
        return GateResult(
            Gate.MEDIA_CONSENT, False, "An image of a patient needs the patient's recorded consent.", details
        )
    return GateResult(Gate.MEDIA_CONSENT, True, f"{len(patients)} image(s) of patients, each with consent.")


def _topics(session: Session, post: Post, revision: Revision) -> GateResult:
    """A post is filed under at least one of the editors' topics; a page needs none.

    While the editors have defined no topic at all, there is nothing to choose from, and the gate passes
    saying so: a new blog is not blocked before its editors set up the list.
    """
    if post.is_page:
        return GateResult(Gate.TOPICS, True, "A page needs no topic.")
    if revision.topics:
        names = ", ".join(t.name for t in revision.topics)
        return GateResult(Gate.TOPICS, True, f"Filed under {names}.")
    if session.scalar(select(Topic.id).limit(1)) is None:
        return GateResult(Gate.TOPICS, True, "No topics are defined yet; editors can add them.")
    return GateResult(Gate.TOPICS, False, "Choose at least one topic for the post.")


def _external_sites(session: Session, revision: Revision) -> GateResult:
    if revision.personal_view:
        return GateResult(
            Gate.EXTERNAL_SITES,
            True,
            "A personal view: the external sites rule applies to official posts. Embeds still show only "
            "for approved sites.",
        )
    details = sites.findings(revision.html, sites.registry(session))
    if details:
        return GateResult(
            Gate.EXTERNAL_SITES,
            False,
            "Official posts use only external sites approved by Public Affairs and Compliance "
            "(see /policies/external-sites).",
            details,
        )
    return GateResult(Gate.EXTERNAL_SITES, True, "No unapproved external site is linked or embedded.")


def evaluate(
    session: Session,
    post: Post,
    settings: GateSettings,
    *,
    touches_interests: bool | None = None,
    working_copy: Revision | None = None,
) -> list[GateResult]:
    """Every gate for the post's current revision, with any override recorded for that revision.

    With ``working_copy`` (an unsaved Revision, never added to the session), the same gates judge the
    editor's text as it stands, read-only; an override binds a saved revision, so none applies to it.
    """
    revision = working_copy or post.current_revision
    assert revision is not None
    results = [
        _identity(post),
        _disclosure(session, post, settings, touches_interests),
        _references(post, revision),
        _direct_links(revision, settings),
        _privacy(revision, settings),
        _media_alt(session, revision),
        _media_consent(session, revision),
        _topics(session, post, revision),
        _external_sites(session, revision),
    ]
    if working_copy is not None:
        return results
    overrides = {
        o.gate: o
        for o in session.scalars(
            select(GateOverride).where(
                GateOverride.post_id == post.id, GateOverride.revision_number == revision.number
            )
        )
    }
    for result in results:
        if not result.ok and result.gate in OVERRIDABLE:
            result.override = overrides.get(result.gate.value)
    return results


def failing(results: list[GateResult]) -> list[dict[str, str]]:
    return [
        {"gate": r.gate.value, "message": r.message + (" " + " ".join(r.details) if r.details else "")}
        for r in results
        if not r.passes
    ]
