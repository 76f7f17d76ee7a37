"""The registry of every HTML page Candor serves, for the checks that must hold on all of them.

``tests/test_pages_valid_and_accessible.py`` fetches each page listed by ``every_page`` and requires it
to be valid HTML (the Nu HTML Checker) and to pass axe's WCAG 2.1 A and AA rules in Chromium, both for
an anonymous reader and for a signed-in member of staff.

**Adding a page?** Add it to ``every_page`` below (and, if it needs content that is not there yet,
seed that content in ``seed_site``). A test fails, naming the route, while any GET route outside
``/api/`` is missing from this list; a route that does not answer HTML (a feed, a download) goes in
``NOT_HTML`` instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import cursors
from app.accounts.models import User
from app.corrections import services as corrections
from app.drafts import services as drafts
from app.editorial import services as editorial
from app.editorial.gates import GateSettings
from app.medical import services as medical
from app.posts import services as posts
from app.posts.models import Post, Revision
from app.redaction import services as redactions
from app.redaction.models import Target
from app.sites import services as sites

EMBED_URL = "https://www.youtube.com/watch?v=clinic-tour"

# GET endpoints that are not HTML pages, so they are neither validated nor run through axe.
NOT_HTML: frozenset[str] = frozenset(
    {
        "static",
        "corrections.feed",
        "corrections.corrections_feed",
        "ops.healthz",
        "ops.metrics",
        "media.serve",
        "topics.feed",
        "corrections.json_feed",
        "corrections.corrections_json_feed",
        "discovery.sitemap",
        "discovery.robots",
        "discovery.favicon",
    }
)
NOT_HTML_PREFIXES: tuple[str, ...] = ("api.",)

# Single sign-on is switched on for the checked pages, so the sign-in page shows its button and the
# routes' own pages (refusals) are checked too. Nothing listens on the issuer's port: the start page is
# the "provider unreachable" one, and the callback without a pending sign-in never calls the provider.
PAGES_APP_CONFIG: dict[str, Any] = {
    "OIDC_ISSUER": "http://127.0.0.1:9",
    "OIDC_CLIENT_ID": "candor-blog",
    "OIDC_CLIENT_SECRET": "pages-test-secret",
    "OIDC_NAME": "Clinic Login",
    "OIDC_CONTACT": "the Public Affairs office",
    "OIDC_TIMEOUT": 2.0,
}

# Enough published posts that the home page has a second page (the index shows 10 a page).
POSTS_FOR_TWO_PAGES = 11


@dataclass(frozen=True)
class Page:
    """One URL as one kind of visitor sees it, and the status it must answer with."""

    name: str
    path: str
    status: int = 200
    signed_in: bool = False
    # Also check it signed in? Signed-in pages differ at least in the header (name, sign-out form).
    also_signed_in: bool = True
    # A route whose only HTML page is not a 200 (the single sign-on callback refuses with 400 unless a
    # provider is on the other end) counts as listed by this page.
    covers_route: bool = False

    @property
    def label(self) -> str:
        who = "signed in" if self.signed_in else "anonymous"
        return f"{self.name} [{who}] {self.path}"


@dataclass
class Site:
    """What ``seed_site`` made, for building paths and signing in."""

    post: Post  # published, then corrected: revisions 1 (superseded) and 2 (current)
    draft: Post  # never published
    in_review: Post  # submitted, awaiting an editor
    author: User  # wrote ``post``
    staff: User  # holds every role, so signed-in pages show every staff control; signs in for the checks
    posts: list[Post]
    comments: CommentsSeed | None = None  # reader and staff comments on ``post``, a contact message
    redaction_id: int = 0  # a pending redaction of ``post``'s revision 1
    report_id: int | None = None  # a reader's open error report on ``post``
    image_id: int = 0  # a library image showing a patient, with an expired consent record
    external_site_id: int = 0  # an approved external site (YouTube); a second one is only proposed
    embed_slug: str = ""  # a published post embedding the approved site


def seed_site(
    session: Session, make_user: Callable[..., User], make_post: Callable[..., Post], settings: GateSettings
) -> Site:
    """A small blog with one of everything a page can show: a corrected post with a reader's error
    report, a retracted post (labelled on the index, listed among corrections), a draft, a post in
    review, two index pages."""
    staff = make_user(
        "author",
        "editor",
        "moderator",
        "compliance",
        "admin",
        name="Sam Staff",
        title="Head of Public Affairs",
        department="Communications",
    )
    author = make_user("author", name="Dr Ada Okafor", title="Pharmacist", department="Pharmacy")
    newsdesk = make_user("author", name="Clinic Newsdesk", title="Editor", department="Communications")
    others = [
        make_post("published", author=newsdesk, title=f"Clinic news item {n}", body=f"News item {n}.")
        for n in range(1, POSTS_FOR_TWO_PAGES)
    ]
    post = make_post(
        "published",
        author=author,
        title="Taking ibuprofen safely",
        body=BODY,
        references=["https://example.org/ibuprofen-guidance", "https://example.org/nsaid-review"],
    )
    _correct(session, post, staff, BODY.replace("up to 2400 mg", "up to 1200 mg"), settings)
    editorial.retract(session, staff, others[0], "The item announced a clinic that has not opened.")
    # Health information (issue 11): the corrected post was medically reviewed; another is due for review.
    from tests.support.trust import review_health_post

    review_health_post(session, post, staff, newsdesk)
    medical.mark_health(session, staff, others[1], True)
    draft = make_post("draft", author=author, title="An unfinished draft", body="Not for readers yet.")
    youtube = sites.propose(
        session, author, name="YouTube", kind="video", hosts="youtube.com\nyoutu.be", note="Clinic tours."
    )
    sites.decide(session, staff, youtube.id, capacity="public_affairs", verdict="approve", note="On brand.")
    reviewer = make_user("compliance", name="Cory Compliance", title="Reviewer", department="Compliance")
    sites.decide(session, reviewer, youtube.id, capacity="compliance", verdict="approve", note="Terms read.")
    sites.propose(session, author, name="Flickr", kind="photo", hosts="flickr.com", note="Event photos.")
    session.commit()
    # Sam's autosaved working copy of the draft: the editor offers it back (and restores it).
    drafts.save(
        session,
        staff,
        draft,
        title="An unfinished draft",
        body="Not for readers *yet*.",
        references="",
        base=1,
    )
    session.commit()
    embedding = make_post(
        "published", author=newsdesk, title="A tour of the clinic", body=f"Our tour:\n\n{EMBED_URL}\n"
    )
    in_review = make_post("in_review", author=author, title="A post awaiting review", body="Nearly there.")
    report = corrections.report_error(
        session,
        post,
        what="The dose in the second paragraph looks too high.",
        source="https://example.org/bnf-ibuprofen",
        email="reader@example.org",
        ip="192.0.2.10",
    )
    comments_seed = seed_comments(session, post, staff)
    # A redaction of published text, waiting for a second editor (it changes nothing until confirmed).
    redaction = redactions.request(
        session,
        staff,
        Target.REVISION,
        _revision_id(session, post, 1),
        text="Ibuprofen",
        reason="Checking the pages.",
    )
    image = _image(session, staff)
    _seed_page_and_topic(session, author, staff, settings)
    session.commit()
    return Site(
        image_id=image,
        post=post,
        draft=draft,
        in_review=in_review,
        author=author,
        staff=staff,
        posts=[*others, post],
        comments=comments_seed,
        redaction_id=redaction.id,
        report_id=report.id,
        external_site_id=youtube.id,
        embed_slug=embedding.slug or "",
    )


def _seed_page_and_topic(session: Session, author: User, editor: User, settings: GateSettings) -> None:
    """A published, corrected page (/pages/about) and a post filed under a topic (/topics/medicines)."""
    from app.topics import services as topics

    page = posts.create_draft(session, author, posts.RevisionInput("About", "Who we are.", []), type="page")
    editorial.submit(session, author, page, settings)
    editorial.approve(session, editor, page, 1, settings)
    change = posts.RevisionInput("About", "Who we are, and why.", [], "correction", "We said too little.")
    posts.revise(session, author, page, change, 1)
    editorial.submit(session, author, page, settings)
    editorial.approve(session, editor, page, 2, settings)
    topics.create_topic(session, editor, "Medicines")
    filed = posts.create_draft(
        session,
        author,
        posts.RevisionInput(
            "Paracetamol basics", "Paracetamol and fever.", ["https://example.org/p"], topics=("Medicines",)
        ),
    )
    editorial.submit(session, author, filed, settings)
    editorial.approve(session, editor, filed, 1, settings)


def every_page(site: Site) -> list[Page]:
    """Every HTML page, anonymous and (where ``also_signed_in``) signed in. Add new pages here."""
    slug = site.post.slug
    reader = [
        Page("home", "/"),
        # A later page: the cursor of a post newer than any, so it lists them all under "Older posts".
        Page(
            "home, a later page", "/?after=" + cursors.encode("posts", (datetime(2999, 1, 1, tzinfo=UTC), 1))
        ),
        Page("post", f"/posts/{slug}"),
        Page("superseded revision", f"/posts/{slug}/revisions/1"),
        Page("current revision", f"/posts/{slug}/revisions/2"),
        Page("first public version", f"/posts/{slug}/versions/1"),
        Page("changes", f"/posts/{slug}/changes"),
        Page("changes between two revisions", f"/posts/{slug}/changes?from=1&to=2"),
        Page("history", f"/posts/{slug}/history"),
        Page("report an error", f"/posts/{slug}/report"),
        Page("corrections log", "/corrections"),
        Page("page", "/pages/about"),
        Page("page: superseded revision", "/pages/about/revisions/1"),
        Page("page: first version", "/pages/about/versions/1"),
        Page("page: changes", "/pages/about/changes"),
        Page("page: history", "/pages/about/history"),
        Page("topics", "/topics"),
        Page("topic", "/topics/medicines"),
        Page("search", "/search"),
        Page("search results", "/search?q=ibuprofen"),
        Page("search, nothing found", "/search?q=zebra"),
        Page("approved external sites", "/policies/external-sites"),
        Page("post with an embed", f"/posts/{site.embed_slug}"),
        Page("staff profile", f"/people/{site.author.id}"),
        Page("sign-in", "/login", also_signed_in=False),
        Page("single sign-on, provider unreachable", "/login/oidc", status=502, covers_route=True),
        Page(
            "single sign-on, expired callback",
            "/login/oidc/callback?state=gone&code=x",
            status=400,
            covers_route=True,
        ),
        Page("forgot password", "/forgot-password", also_signed_in=False),
        Page(
            "password reset, bad link", "/reset-password/not-a-valid-link", status=404, also_signed_in=False
        ),
        Page("password reset link", f"/reset-password/{_reset_token(site.author)}", also_signed_in=False),
        Page("not found", "/no-such-page", status=404),
        Page("draft, not public", "/posts/an-unfinished-draft", status=404, also_signed_in=False),
    ]
    staff_only: list[Page] = [
        # Pages only staff can open go here, with signed_in=True.
        Page("staff dashboard", "/staff/", signed_in=True),
        Page("staff: health information of a post", f"/staff/posts/{site.post.id}/health", signed_in=True),
        Page("staff: health information of a draft", f"/staff/posts/{site.draft.id}/health", signed_in=True),
        Page("staff: due for medical re-review", "/staff/medical-reviews/due", signed_in=True),
        Page("staff: new post", "/staff/posts/new", signed_in=True),
        Page("staff: edit a draft", f"/staff/posts/{site.draft.id}/edit", signed_in=True),
        Page(
            "staff: edit a draft, autosave restored",
            f"/staff/posts/{site.draft.id}/edit?restore=1",
            signed_in=True,
        ),
        Page("staff: edit a published post", f"/staff/posts/{site.post.id}/edit", signed_in=True),
        Page("staff: review queue", "/staff/reviews", signed_in=True),
        Page("staff: review a published post", f"/staff/reviews/{site.post.id}", signed_in=True),
        Page("staff: review a draft", f"/staff/reviews/{site.draft.id}", signed_in=True),
        Page("staff: review a submitted post", f"/staff/reviews/{site.in_review.id}", signed_in=True),
        Page("staff: disclosure", "/staff/disclosure", signed_in=True),
        Page("staff: audit log", "/staff/audit", signed_in=True),
        Page("staff: settings", "/staff/settings", signed_in=True),
        Page("staff: a post's audit log", f"/staff/posts/{site.post.id}/audit", signed_in=True),
        Page("staff: error reports", "/staff/error-reports", signed_in=True),
        Page("staff: changes since publication", f"/staff/posts/{site.post.id}/diff", signed_in=True),
        Page("staff: redactions", "/staff/redactions/", signed_in=True),
        Page("staff: a pending redaction", f"/staff/redactions/{site.redaction_id}", signed_in=True),
        Page(
            "staff: redact a revision",
            f"/staff/redactions/new/revision/{site.post.published_revision_id}",
            signed_in=True,
        ),
        # The staff desk (issue 10): the post list, your settings, and the confirmation steps.
        Page("staff: all posts", "/staff/posts", signed_in=True),
        Page("staff: search", "/staff/search?q=ibuprofen", signed_in=True),
        Page("staff: topics", "/staff/topics", signed_in=True),
        Page("staff: all posts, filtered", "/staff/posts?state=published&q=ibuprofen", signed_in=True),
        Page("staff: all posts, nothing found", "/staff/posts?q=no+such+title", signed_in=True),
        Page("staff: your settings", "/staff/me", signed_in=True),
        Page(
            "staff: confirm an approval",
            f"/staff/reviews/{site.in_review.id}/approve?revision=1&publish_at=2999-07-01T09:30",
            signed_in=True,
        ),
        Page(
            "staff: approval with an impossible date",
            f"/staff/reviews/{site.in_review.id}/approve?revision=1&publish_at=2999-13-01T09:30",
            status=422,
            signed_in=True,
        ),
        Page(
            "staff: confirm a retraction",
            f"/staff/reviews/{site.post.id}/retract?reason=The+study+was+withdrawn.",
            signed_in=True,
        ),
        Page(
            "staff: withdraw someone else's post",
            f"/staff/posts/{site.in_review.id}/withdraw",
            signed_in=True,
        ),
        Page(
            "staff: confirm accepting an error report",
            f"/staff/error-reports/{site.report_id}/accept?correction_revision=2",
            signed_in=True,
        ),
        Page(
            "staff: confirm declining an error report",
            f"/staff/error-reports/{site.report_id}/decline?reason=The+dose+is+right.",
            signed_in=True,
        ),
        Page("staff: API tokens", "/staff/tokens", signed_in=True),
        Page("staff: change password", "/staff/password", signed_in=True),
        Page("admin: staff accounts", "/staff/users", signed_in=True),
        Page(
            "admin: staff accounts, searched",
            "/staff/users?q=pharm&role=author&status=active",
            signed_in=True,
        ),
        Page("admin: new staff account", "/staff/users/new", signed_in=True),
        Page("admin: a staff account", f"/staff/users/{site.author.id}", signed_in=True),
        Page("admin: deactivate, confirm", f"/staff/users/{site.author.id}/deactivate", signed_in=True),
        # Images (issue 12): the library, one image, its deletion.
        Page("staff: images", "/staff/media", signed_in=True),
        Page("staff: an image", f"/staff/media/{site.image_id}", signed_in=True),
        Page("staff: delete an image, confirm", f"/staff/media/{site.image_id}/delete", signed_in=True),
        # Approved external sites (issue 12, item 7).
        Page("staff: external sites", "/staff/external-sites/", signed_in=True),
        Page("staff: propose an external site", "/staff/external-sites/new", signed_in=True),
        Page("staff: an external site", f"/staff/external-sites/{site.external_site_id}", signed_in=True),
    ]
    if site.comments is not None:
        reader += comment_reader_pages(site, site.comments)
        staff_only += comment_staff_pages(site.comments)
    signed_in = [replace(page, signed_in=True) for page in reader if page.also_signed_in]
    return reader + signed_in + staff_only


def _image(session: Session, staff: User) -> int:
    """A library image of a patient, with a consent record that has run out."""
    import io
    from datetime import date

    from PIL import Image

    from app.media import services as media
    from app.media.storage import DatabaseStore

    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), (90, 140, 200)).save(buffer, format="JPEG")
    image, _ = media.upload(
        session,
        staff,
        buffer,
        name="ward-round.jpg",
        alt="A nurse talking with a patient on the ward",
        decorative=False,
        shows_patient=True,
        store=DatabaseStore(),
        limits=media.Limits(10**7, 10**7),
    )
    media.record_consent(
        session,
        staff,
        image,
        form_reference="CF-2025-001",
        consented_on=date(2025, 1, 1),
        expires_on=date(2025, 12, 31),
        scopes=["web", "print"],
    )
    return image.id


def _reset_token(user: User) -> str:
    """A live reset link for ``user``, signed with the key the test app uses (tests/conftest.py sets it)."""
    import os

    from app.administration.services import reset_token

    return reset_token(os.environ["SECRET_KEY"], user)


def is_html_endpoint(endpoint: str) -> bool:
    return endpoint not in NOT_HTML and not endpoint.startswith(NOT_HTML_PREFIXES)


BODY = """\
Ibuprofen eases pain and fever, but it is not for everyone.

## How much to take

Adults may take 200 to 400 mg every four to six hours, up to 2400 mg in a day.

- Take it with food.
- Do not combine it with other *anti-inflammatory* medicines.

> Ask a pharmacist if you take blood thinners.

See the [national guidance](https://example.org/ibuprofen-guidance) for details.
"""


def _correct(session: Session, post: Post, editor: User, body: str, settings: GateSettings) -> Any:
    """Publish a correction to ``post``: revise, submit, approve, as the API would."""
    current = post.current_revision
    assert current is not None
    change = posts.RevisionInput(
        current.title,
        body,
        list(current.references),
        "correction",
        "The daily maximum was wrong: it is 1200 mg.",
    )
    revision, _ = posts.revise(session, post.author, post, change, current.number)
    editorial.submit(session, post.author, post, settings)
    editorial.approve(session, editor, post, revision.number, settings)
    session.commit()
    return revision


# --- comments (issue 5) ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CommentsSeed:
    """A published reader question with a staff reply, a held comment its writer can fix, a contact
    message, and the signed tokens of the writer's status page and of an unsubscribe link."""

    question_id: int
    held_id: int
    contact_id: int
    status_token: str
    unsubscribe_token: str
    confirm_token: str


def seed_comments(session: Session, post: Post, staff: User) -> CommentsSeed:
    import os

    from app.comments import services, tokens
    from app.comments.models import Subscription
    from app.contact import services as contact
    from app.moderation.services import moderate
    from app.spam.akismet_adapter import AkismetChecker, AkismetSettings
    from app.spam.pipeline import PipelineSettings

    checker = AkismetChecker(AkismetSettings(api_key=None, blog_url="http://blog.example.org/"))
    settings = PipelineSettings(min_seconds=0)

    def comment(body: str, email: str, name: str, notify: bool = False) -> Any:
        data = services.CommentInput(
            author_name=name,
            author_email=email,
            body=body,
            notify=notify,
            ip="192.0.2.20",
            permalink=f"http://blog.example.org/posts/{post.slug}",
        )
        return services.submit_comment(session, post, data, actor=None, checker=checker, settings=settings)

    question = comment(
        "Can I take *ibuprofen* with paracetamol? See https://example.org/nhs-advice",
        "reader@example.org",
        "Rosa Reader",
        notify=True,
    )
    moderate(session, staff, question, "approve")
    answer = "Yes: they work differently. Ask a pharmacist."
    services.staff_comment(
        session,
        post,
        staff,
        services.CommentInput(
            author_name=staff.name, author_email=staff.email, body=answer, parent_id=question.id
        ),
    )
    held = comment("My number is (507) 284-2511, call me about the dose.", "other@example.org", "Omar Reader")
    message = contact.submit(
        session,
        contact.ContactInput(
            "Cy Reader", "cy@example.org", "Visiting hours", "When can I visit the pharmacy?"
        ),
        min_seconds=0,
    )
    session.flush()
    subscription = session.query(Subscription).filter_by(comment_id=question.id).one()
    # The app signs with SECRET_KEY, which tests/conftest.py sets in the environment before any app exists.
    secret = os.environ["SECRET_KEY"]
    return CommentsSeed(
        question_id=question.id,
        held_id=held.id,
        contact_id=message.id,
        status_token=tokens.sign(secret, tokens.Purpose.COMMENT_STATUS, c=held.id),
        unsubscribe_token=tokens.sign(
            secret, tokens.Purpose.UNSUBSCRIBE, s=subscription.id, e=subscription.email
        ),
        confirm_token=tokens.sign(
            secret, tokens.Purpose.CONFIRM_SUBSCRIPTION, s=subscription.id, e=subscription.email
        ),
    )


def comment_reader_pages(site: Site, seed: CommentsSeed) -> list[Page]:
    slug = site.post.slug
    return [
        Page("comment: reply form", f"/posts/{slug}/comments/{seed.question_id}/reply"),
        Page("comments: more threads", f"/posts/{slug}/comments"),
        Page("comments: a thread's further replies", f"/posts/{slug}/comments?thread={seed.question_id}"),
        Page("comment: writer's status page (held, fixable)", f"/comments/status/{seed.status_token}"),
        Page("contact form", "/contact"),
        Page("unsubscribe from staff replies", f"/unsubscribe/{seed.unsubscribe_token}"),
        Page("confirm e-mails about staff replies", f"/subscriptions/confirm/{seed.confirm_token}"),
    ]


def comment_staff_pages(seed: CommentsSeed) -> list[Page]:
    return [
        Page("moderation: held comments", "/staff/comments/", signed_in=True),
        Page("moderation: published comments", "/staff/comments/?status=published", signed_in=True),
        Page("moderation: a comment in context", f"/staff/comments/{seed.question_id}", signed_in=True),
        Page("moderation: a held comment", f"/staff/comments/{seed.held_id}", signed_in=True),
        Page("moderation: needs reply", "/staff/comments/needs-reply", signed_in=True),
        Page("moderation: log", "/staff/comments/log", signed_in=True),
        Page("moderation: off-topic filter", "/staff/comments/filter", signed_in=True),
        Page("moderation: contact messages", "/staff/contact/", signed_in=True),
        Page("moderation: a contact message", f"/staff/contact/{seed.contact_id}", signed_in=True),
        Page(
            "moderation: confirm spam", f"/staff/comments/{seed.held_id}/confirm?action=spam", signed_in=True
        ),
        Page(
            "moderation: confirm a bulk deletion",
            f"/staff/comments/bulk/confirm?action=delete&comment_ids={seed.held_id}&comment_ids={seed.question_id}",
            signed_in=True,
        ),
    ]


def _revision_id(session: Session, post: Post, number: int) -> int:
    found = session.scalar(select(Revision.id).where(Revision.post_id == post.id, Revision.number == number))
    assert found is not None
    return found
