"""Topics for readers (/topics, /topics/<slug>, its Atom feed, GET /api/v1/topics) and for editors
(/staff/topics: add and rename, audited)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from app.accounts.permissions import require
from app.clock import utc_now
from app.corrections import services as corrections
from app.errors import Conflict, InvalidInput, NotFound
from app.posts import services as posts
from app.topics import services
from app.web import api, paging
from app.web.api import PUBLIC, TEXT, URL, answer, listing_of
from app.web.auth import current_user
from app.web.database import db
from app.web.forms import Form, TextSafe
from app.web.pagecache import cached_page, reads_query
from app.web.readers import public_reader_url
from app.web.runtime import effective
from app.web.urls import public_url

bp = Blueprint("topics", __name__)
API = api.Routes()
PER_PAGE = 10
FEED_ENTRIES = 30


class TopicForm(Form):
    name = StringField(
        "Topic name",
        validators=[DataRequired("Give the topic a name."), Length(max=services.MAX_NAME_CHARS), TextSafe()],
    )


# --- readers ------------------------------------------------------------------------------------------


@bp.get("/topics")
def index() -> Any:
    topics = posts.all_topics(db())
    counts = posts.topic_counts(db())
    return render_template("topics/index.html", topics=[t for t in topics if counts.get(t.id)], counts=counts)


@bp.get("/topics/<slug>")
@reads_query("after", "before")
def show(slug: str) -> Any:
    after, before = paging.cursors()
    topic = posts.topic_by_slug(db(), slug)

    def render() -> str:
        listed = posts.published_in_topic(db(), topic, after=after, before=before, per_page=PER_PAGE)
        items = listed.rows
        if not items and (after or before):
            raise NotFound("There is no such page of posts.")
        ids = [p.id for p in items]
        return render_template(
            "topics/show.html",
            topic=topic,
            posts=items,
            **paging.pager(listed, after, before),
            retractions=corrections.retractions_by_post(db(), ids),
            corrected=corrections.corrected_post_ids(db(), ids),
        )

    key = ("topic", topic.id, topic.name, posts.public_stamp(db()), corrections.corrections_stamp(db()))
    return cached_page(key, render)


@bp.get("/topics/<slug>/feed.atom")
@reads_query()
def feed(slug: str) -> Any:
    topic = posts.topic_by_slug(db(), slug)

    def render() -> str:
        items, _ = posts.published_in_topic(db(), topic, per_page=FEED_ENTRIES)
        ids = [p.id for p in items]
        retractions = corrections.retractions_by_post(db(), ids)
        published = corrections.last_published_at(db(), ids)
        updated = {
            p.id: retractions[p.id].at if p.id in retractions else published.get(p.id, p.updated_at)
            for p in items
        }
        from feedgen.feed import FeedGenerator  # loaded by the first feed served (app/web/feeds.py)

        fg = FeedGenerator()
        fg.id(public_url("topics.feed", slug=topic.slug))
        fg.title(f"{topic.name} · {effective()['SITE_NAME']}")
        fg.author({"name": effective()["ORGANISATION"]})
        fg.link(href=public_url("topics.feed", slug=topic.slug), rel="self")
        fg.link(href=public_url("topics.show", slug=topic.slug), rel="alternate")
        fg.language("en")
        fg.generator("Candor")
        fg.updated(max(updated.values(), default=None) or utc_now())
        for post in reversed(items):
            revision = post.published_revision
            entry = fg.add_entry()
            url = public_reader_url("show", post)
            entry.id(url)
            entry.link(href=url)
            entry.author({"name": post.author.name})
            entry.published(post.first_published_at)
            entry.updated(updated[post.id])
            retraction = retractions.get(post.id)
            if retraction is None:
                entry.title(revision.title)
                entry.content(revision.html, type="html")
            else:
                entry.title(f"Retracted: {revision.title}")
                entry.summary(f"Retracted: {retraction.reason}")
        return fg.atom_str(pretty=True).decode()

    key = ("topic-feed", topic.id, topic.name, posts.public_stamp(db()), corrections.corrections_stamp(db()))
    response = cached_page(key, render)
    response.mimetype = "application/atom+xml"
    return response


TOPIC = answer({"name": TEXT, "slug": TEXT, "url": URL, "feed": URL})


@API.get("/topics", summary="The editors' topics, by name", auth=PUBLIC, responses={200: listing_of(TOPIC)})
def api_topics() -> Any:
    items = [
        {
            "name": t.name,
            "slug": t.slug,
            "url": public_url("topics.show", slug=t.slug),
            "feed": public_url("topics.feed", slug=t.slug),
        }
        for t in posts.all_topics(db())
    ]
    return {"items": items, "next": None}


# --- editors ------------------------------------------------------------------------------------------


def _staff_page(form: TopicForm, *, status: int = 200, rename: dict[int, TopicForm] | None = None) -> Any:
    topics = posts.all_topics(db())
    forms = rename or {}
    for topic in topics:
        forms.setdefault(topic.id, TopicForm(formdata=None, data={"name": topic.name}, prefix=f"t{topic.id}"))
    return (
        render_template(
            "topics/staff.html",
            topics=topics,
            counts=posts.topic_counts(db()),
            form=form,
            rename_forms=forms,
            staff_section="topics",
        ),
        status,
    )


def _editor_or_login() -> Any:
    if current_user() is None:
        return redirect(url_for("accounts.login", next=url_for(".staff_topics")))
    require(current_user(), "topics.manage")
    return None


@bp.route("/staff/topics", methods=["GET", "POST"])
def staff_topics() -> Any:
    if (gone := _editor_or_login()) is not None:
        return gone
    form = TopicForm(prefix="new")
    if request.method == "GET":
        return _staff_page(TopicForm(formdata=None, prefix="new"))
    if not form.validate():
        return _staff_page(form, status=422)
    try:
        topic = services.create_topic(db(), current_user(), form.name.data)
    except (InvalidInput, Conflict) as exc:
        db().rollback()
        form.name.errors = [*form.name.errors, exc.message]
        return _staff_page(form, status=exc.status if isinstance(exc, Conflict) else 422)
    return redirect(url_for(".staff_topics", added=topic.slug), 303)


@bp.post("/staff/topics/<int:topic_id>")
def rename_topic(topic_id: int) -> Any:
    if (gone := _editor_or_login()) is not None:
        return gone
    form = TopicForm(prefix=f"t{topic_id}")
    if not form.validate():
        return _staff_page(TopicForm(formdata=None, prefix="new"), status=422, rename={topic_id: form})
    try:
        services.rename_topic(db(), current_user(), topic_id, form.name.data)
    except (InvalidInput, Conflict) as exc:
        db().rollback()
        form.name.errors = [*form.name.errors, exc.message]
        status = exc.status if isinstance(exc, Conflict) else 422
        return _staff_page(TopicForm(formdata=None, prefix="new"), status=status, rename={topic_id: form})
    return redirect(url_for(".staff_topics"), 303)
