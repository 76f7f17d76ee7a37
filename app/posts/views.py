"""Reader pages and the posts JSON API: parse, call one service, commit once, render."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for

from app.accounts.models import User
from app.accounts.permissions import can, require
from app.comments.closing import closed_by_age
from app.corrections import services as corrections
from app.disclosures import services as disclosures
from app.editorial import services as editorial
from app.errors import InvalidInput, Moved, NotFound
from app.medical import services as medical
from app.posts import services
from app.posts.addresses import number_of_version, version_of
from app.posts.models import Post, PostType, Publication, Revision
from app.redaction import services as redaction
from app.text import clean_text, clean_url_list, whole_number
from app.web import api, paging, structured
from app.web.api import (
    BOOL,
    DATETIME,
    ID,
    PAGE_QUERY,
    PUBLIC,
    TEXT,
    URL,
    answer,
    bool_field,
    int_field,
    json_body,
    listing,
    listing_of,
    nullable,
    obj,
    page_args,
)
from app.web.auth import current_user
from app.web.database import db
from app.web.pagecache import cached_page, reads_query
from app.web.readers import public_reader_url, same_view_other_type
from app.web.urls import public_url

bp = Blueprint("posts", __name__)
API = api.Routes()  # this module's JSON routes, added to /api/v1 by create_app

PER_PAGE = 10
MAX_BODY_CHARS = 200_000
MAX_TOPICS = 10


# --- reader pages ----------------------------------------------------------------------------------


def _page_number() -> int:
    page = whole_number(request.args.get("page", "1"), upper=100_000)
    if page is None:
        abort(404)
    return page


@bp.get("/")
@reads_query("after", "before")
def index() -> Any:
    after, before = paging.cursors()
    # Retractions count on their own (corrections_stamp): the index labels them.
    stamp = (services.public_stamp(db()), corrections.corrections_stamp(db()))

    def render() -> str:
        listed = services.published_posts(db(), after=after, before=before, per_page=PER_PAGE)
        posts = listed.rows
        if not posts and (after or before):
            raise NotFound("There is no such page of posts.")
        return render_template(
            "posts/index.html",
            posts=posts,
            **paging.pager(listed, after, before),
            retractions=corrections.retractions_by_post(db(), [p.id for p in posts]),
            corrected=corrections.corrected_post_ids(db(), [p.id for p in posts]),
            organization_jsonld=structured.home(),
        )

    return cached_page(("index", stamp), render)


def public_key(slug: str, type: str = PostType.POST.value) -> tuple[object, ...]:
    """The page key of the public post (or page) at ``slug``; Moved (a 301) if it was retitled, a 301 to
    the other prefix if ``slug`` is a page asked for under /posts/ (or a post under /pages/), else
    NotFound."""
    key = services.page_key(db(), slug, type)
    if key is not None:
        return key
    other = PostType.PAGE.value if type == PostType.POST.value else PostType.POST.value
    target = same_view_other_type(request.endpoint, type)
    if target is not None and services.page_key(db(), slug, other) is not None:
        abort(redirect(url_for(target, **(request.view_args or {}), **request.args.to_dict()), 301))
    moved = services.slug_redirect(db(), slug)
    if moved is None:
        raise NotFound(f"There is no published {type} at this address.")
    raise Moved(moved)


def post_page_key(key: tuple[object, ...]) -> tuple[object, ...]:
    """A post page's cache key: what ``page_key`` read, and whether its comments have closed by age.

    Closing by age writes nothing, so without this a page cached before the moment would keep its
    comment form. app.web.pagecache.FastPath builds the same key.
    """
    days = int(current_app.config.get("COMMENTS_CLOSE_AFTER_DAYS") or 0)
    return (*key, closed_by_age(key[-1], days))  # type: ignore[arg-type]


def earlier_notices(post: Post, notices: list[Any]) -> bool:
    """Whether the notices listed stop short of the first publication. The list is bounded (the latest
    corrections.NOTICES_SHOWN publications), and without a word about it a reader of a post corrected 45
    times counted 20 corrections and took them for all; they are then pointed to the history."""
    if not notices:
        return False
    return bool(notices[-1].previous_number != number_of_version(db(), post.id, 1))


def _show(slug: str, type: str) -> Any:
    key = post_page_key(public_key(slug, type))

    def render() -> str:
        post = services.get_public_post(db(), slug, type)
        revision = post.published_revision
        # Two publications are enough to know the post has a history to toggle: never the whole list.
        history = services.latest_publications(db(), post, 2)
        publication = services.publication_of(db(), revision)
        notices = corrections.notices(db(), post)
        retraction = editorial.retraction_for(db(), post)
        health = medical.is_health(db(), post.id)
        review = medical.latest_review(db(), post.id) if health else None
        jsonld = structured.post(
            post,
            revision,
            published_at=publication.published_at,
            notices=notices,
            health=health,
            review=review,
            retraction=retraction,
            url=public_reader_url("show", post),
        )
        return render_template(
            "posts/show.html",
            post=post,
            revision=revision,
            history=history,
            publication=publication,
            notices=notices,
            earlier_notices=earlier_notices(post, notices),
            jsonld=jsonld,
            review=review,
            retraction=retraction,
            edit_url=_edit_url(post),
        )

    return cached_page(("post", key), render)


@bp.get("/posts/<slug>")
@reads_query()
def show(slug: str) -> Any:
    return _show(slug, PostType.POST.value)


@bp.get("/pages/<slug>")
@reads_query()
def page(slug: str) -> Any:
    """A standing page (About, the comment policy, the ethics code): a post of type page."""
    return _show(slug, PostType.PAGE.value)


def _edit_url(post: Post) -> str | None:
    """The staff editor's address, for staff who may revise this post; never for a page others get.

    Only a signed-in request has a user, and a signed-in request carries the session cookie, which
    keeps its page out of the shared cache (app/web/pagecache.py checks the user as well).
    """
    user = current_user()
    if user is None or post.is_retracted or not can(user, "post.revise", post):
        return None
    return url_for("staff.edit_post", post_id=post.id)


def _version(slug: str, version: int, type: str) -> Any:
    """Published version ``version`` as readers saw it: readers count 1, 2, 3 over published text only."""
    key = public_key(slug, type)

    def render() -> str:
        post = services.get_public_post(db(), slug, type)
        number = number_of_version(db(), post.id, version)
        if number is None:
            raise NotFound(f"This {type} has no published version {version}.")
        return _revision_page(post, number)

    return cached_page(("version", key, version), render)


@bp.get("/posts/<slug>/versions/<int:version>")
@reads_query()
def version(slug: str, version: int) -> Any:
    return _version(slug, version, PostType.POST.value)


@bp.get("/pages/<slug>/versions/<int:version>")
@reads_query()
def page_version(slug: str, version: int) -> Any:
    """A standing page's published versions, numbered for readers like a post's."""
    return _version(slug, version, PostType.PAGE.value)


def _revision(slug: str, number: int, type: str) -> Any:
    """A published revision by its internal number (the API's; links made before public versions):
    served as it always was, with its canonical address on the public version."""
    key = public_key(slug, type)

    def render() -> str:
        post = services.get_public_post(db(), slug, type)
        return _revision_page(post, number)

    return cached_page(("revision", key, number), render)


@bp.get("/posts/<slug>/revisions/<int:number>")
@reads_query()
def revision(slug: str, number: int) -> Any:
    return _revision(slug, number, PostType.POST.value)


@bp.get("/pages/<slug>/revisions/<int:number>")
@reads_query()
def page_revision(slug: str, number: int) -> Any:
    return _revision(slug, number, PostType.PAGE.value)


def _revision_page(post: Post, number: int) -> str:
    rev, publication = services.published_revision(db(), post, number)
    notes = redaction.revision_notes(db(), [rev.id]).get(rev.id, [])
    shown = version_of(db(), post.id, number)
    canonical = public_reader_url("version", post, version=shown)
    return render_template(
        "posts/revision.html",
        post=post,
        revision=rev,
        publication=publication,
        redactions=notes,
        version=shown,
        canonical_override=canonical,
    )


@bp.get("/people/<int:user_id>")
def person(user_id: int) -> Any:
    """A staff profile: who they are, their role, their current disclosure and their posts."""
    user = db().get(User, user_id)
    if user is None or not user.roles:
        raise NotFound("There is no staff member at this address.")
    max_age = current_app.config["CANDOR_COI_MAX_AGE_DAYS"]
    latest = disclosures.latest(db(), user)
    return render_template(
        "posts/person.html",
        person=user,
        disclosure=latest,
        disclosure_current=disclosures.is_current(latest, max_age),
        history=disclosures.history(db(), user),
        posts=services.posts_by(db(), user),
    )


# --- JSON API --------------------------------------------------------------------------------------

PUBLICATION_STATE: dict[str, Any] = {"type": "string", "enum": ["never_published", "live", "retracted"]}
REVIEW_STATE: dict[str, Any] = {"type": "string", "enum": ["none", "in_review", "changes_requested"]}
STATUS: dict[str, Any] = {
    "type": "string",
    "description": "Both states in one word: draft, in_review, changes_requested, published or retracted.",
}
NUMBER: dict[str, Any] = {"type": "integer", "minimum": 1, "description": "A revision number, 1, 2, 3 ..."}
REFERENCES: dict[str, Any] = {
    "type": ["array", "string", "null"],
    "items": {"type": ["string", "null"]},
    "description": "Absolute http(s) URLs (a list, or one per line); at most 50.",
}
REVISION_FIELDS: dict[str, Any] = {
    "title": {**TEXT, "description": "One line, at most 300 characters."},
    "body": {**TEXT, "description": "Markdown, at most 200,000 characters."},
    "references": REFERENCES,
    "kind": {
        **nullable(TEXT),
        "description": "On a published post: correction, clarification, update or minor.",
    },
    "note": {
        **nullable(TEXT),
        "description": "What changed and why (required after publication, but minor).",
    },
    "personal_view": BOOL,
    "topics": {
        "type": ["array", "null"],
        "items": TEXT,
        "maxItems": MAX_TOPICS,
        "description": "Topic names from the editors' list (GET /api/v1/topics); an unknown name is "
        "refused with 422. On a revision, leaving it out keeps the current topics.",
    },
}
NEW_POST = obj(
    {
        **REVISION_FIELDS,
        "type": {
            "type": "string",
            "enum": ["post", "page"],
            "default": "post",
            "description": "page: a standing page served at /pages/<slug>, not in the home page or feed.",
        },
    },
    "title",
    "body",
)
NEW_REVISION = obj({**REVISION_FIELDS, "base_revision": ID}, "body", "base_revision")
POST_CREATED = answer(
    {
        "id": ID,
        "type": TEXT,
        "slug": nullable(TEXT),
        "status": STATUS,
        "publication_state": PUBLICATION_STATE,
        "review_state": REVIEW_STATE,
        "revision": NUMBER,
    }
)
POST = answer(
    {
        "id": ID,
        "type": TEXT,
        "topics": {"type": "array", "items": TEXT},
        "slug": nullable(TEXT),
        "status": STATUS,
        "publication_state": PUBLICATION_STATE,
        "review_state": REVIEW_STATE,
        "url": nullable(URL),
        "title": TEXT,
        "body": TEXT,
        "html": TEXT,
        "references": {"type": "array", "items": URL},
        "revision": NUMBER,
        "published_revision": nullable(NUMBER),
        "first_published_at": nullable(DATETIME),
        "author": answer({"name": TEXT, "title": TEXT, "department": TEXT}),
    }
)
REVISION = answer(
    {
        "revision": NUMBER,
        "title": TEXT,
        "kind": TEXT,
        "note": TEXT,
        "created_at": DATETIME,
        "author": TEXT,
        "published_at": nullable(DATETIME),
        "approved_by": nullable(TEXT),
        "via": nullable(TEXT),
        "personal_view": BOOL,
    }
)
REVISION_SAVED = answer(
    {
        **REVISION["properties"],
        "id": ID,
        "status": STATUS,
        "created": {**BOOL, "description": "false: unchanged"},
    }
)


def revision_json(revision: Revision, publication: Publication | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "revision": revision.number,
        "title": revision.title,
        "kind": revision.kind,
        "note": revision.note,
        "created_at": revision.created_at.isoformat(),
        "author": revision.author.name,
        "published_at": publication.published_at.isoformat() if publication else None,
        "approved_by": publication.approved_by.name if publication else None,
        "via": publication.via if publication else None,
        "personal_view": revision.personal_view,
    }
    return data


def post_json(post: Post, *, staff: bool) -> dict[str, Any]:
    shown = post.current_revision if staff else post.published_revision
    assert shown is not None
    data: dict[str, Any] = {
        "id": post.id,
        "type": post.type,
        "topics": [t.name for t in shown.topics],
        "slug": post.slug,
        "status": post.status,
        "publication_state": post.publication_state,
        "review_state": post.review_state,
        "url": public_reader_url("show", post) if post.slug else None,
        "title": shown.title,
        "body": shown.body,
        "html": shown.html,
        "references": list(shown.references),
        "revision": shown.number,
        "published_revision": post.published_revision.number if post.published_revision else None,
        "first_published_at": post.first_published_at.isoformat() if post.first_published_at else None,
        "author": {
            "name": post.author.name,
            "title": post.author.title,
            "department": post.author.department,
        },
    }
    return data


def _visible_post(post_id: int) -> tuple[Post, bool]:
    post = services.get_post(db(), post_id)
    staff = can(current_user(), "post.view_unpublished")
    if not staff and post.published_revision_id is None:
        raise NotFound(f"No post {post_id}.")
    return post, staff


def _revision_input(
    data: dict[str, Any],
    *,
    title_default: str | None = None,
    references_default: list[str] | None = None,
    personal_view_default: bool = False,
) -> services.RevisionInput:
    title = data.get("title", title_default)
    references = data.get("references", references_default)
    topics = data.get("topics")
    if topics is not None and (
        not isinstance(topics, list)
        or len(topics) > MAX_TOPICS
        or not all(isinstance(t, str) for t in topics)
    ):
        raise InvalidInput(f"topics must be a list of at most {MAX_TOPICS} topic names.", field="topics")
    return services.RevisionInput(
        title=clean_text(title, "title", max_chars=services.MAX_TITLE_CHARS),
        body=clean_text(data.get("body"), "body", max_chars=MAX_BODY_CHARS, multiline=True),
        references=clean_url_list(references, "references"),
        kind=clean_text(data.get("kind"), "kind", max_chars=32, required=False) or None,
        note=clean_text(data.get("note"), "note", max_chars=2000, required=False, multiline=True),
        personal_view=bool_field(data, "personal_view", default=personal_view_default),
        topics=None
        if topics is None
        else tuple(clean_text(t, "topics", max_chars=80, required=False) for t in topics),
    )


@API.get(
    "/posts",
    summary="Published posts, newest first",
    auth=PUBLIC,
    query=PAGE_QUERY,
    responses={200: listing_of(POST)},
)
def api_list_posts() -> Any:
    after, per_page = page_args()
    posts, nxt = services.published_posts(db(), after=after, per_page=per_page)
    return listing([post_json(p, staff=False) for p in posts], nxt, "api.api_list_posts", per_page)


@API.post(
    "/posts",
    summary="Start a new draft (authors)",
    body=NEW_POST,
    responses={201: POST_CREATED},
    headers={201: {"Location": "The new post's address in this API."}},
)
def api_create_post() -> Any:
    actor = require(current_user(), "post.create")
    data = json_body()
    kind = data.get("type", "post")
    if kind not in ("post", "page"):
        raise InvalidInput("type must be post or page.", field="type")
    post = services.create_draft(db(), actor, _revision_input(data), type=kind)
    body = {
        "id": post.id,
        "type": post.type,
        "slug": post.slug,
        "status": post.status,
        "publication_state": post.publication_state,
        "review_state": post.review_state,
        "revision": 1,
    }
    return body, 201, {"Location": public_url("api.api_get_post", post_id=post.id)}


@API.get(
    "/posts/<int:post_id>",
    summary="A post: its current revision for staff, its published one for anyone else",
    auth=api.OPTIONAL,
    responses={200: POST},
)
def api_get_post(post_id: int) -> Any:
    post, staff = _visible_post(post_id)
    return post_json(post, staff=staff)


@API.post(
    "/posts/<int:post_id>/revisions",
    summary="Save a new revision (the post's author, or an editor)",
    description="200 with `created: false` when nothing changed; 409 `stale_revision` with "
    "`current_revision` when `base_revision` is not the current one.",
    body=NEW_REVISION,
    responses={200: REVISION_SAVED, 201: REVISION_SAVED},
    errors=(409,),
)
def api_revise(post_id: int) -> Any:
    actor = require(current_user(), "post.view_unpublished")
    post = services.get_post(db(), post_id)
    data = json_body()
    base = int_field(data, "base_revision")
    assert base is not None and post.current_revision is not None
    current = post.current_revision
    if data.get("publish") is not None:
        raise InvalidInput(
            "Publishing in the same step as editing was withdrawn: every change is approved by "
            "someone who did not write it. Save, then submit for review.",
            field="publish",
        )
    revision, created = editorial.revise(
        db(),
        actor,
        post,
        _revision_input(
            data,
            title_default=current.title,
            references_default=list(current.references),
            personal_view_default=current.personal_view,
        ),
        base,
    )
    body = revision_json(revision) | {"id": post.id, "status": post.status, "created": created}
    return body, 201 if created else 200


@API.get(
    "/posts/<int:post_id>/revisions",
    summary="A post's revisions: every one for staff, the published ones for anyone else",
    auth=api.OPTIONAL,
    responses={200: listing_of(REVISION)},
)
def api_list_revisions(post_id: int) -> Any:
    post, staff = _visible_post(post_id)
    rows = services.revisions(db(), post, published_only=not staff)
    return {"items": [revision_json(r, p) for r, p in rows], "next": None}
