"""Demo content for a fresh install: staff of every role and a few published posts, one corrected.

Passwords are generated on first seed and kept in ``instance/demo-accounts.json`` (mode 0600), so a
second ``make run`` can print them again without ever shipping a known password.
"""

from __future__ import annotations

import json
import os
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import clock
from app.accounts.models import Role, User
from app.accounts.services import create_user
from app.disclosures.services import record_disclosure
from app.editorial import services as editorial
from app.editorial.gates import GateSettings
from app.posts import services as posts
from app.posts.pages import POLICY_PAGES
from app.posts.services import RevisionInput
from app.topics import services as topics

DEMO_DATA = Path(__file__).resolve().parent / "demo_data"
TOPICS = ["Heart health", "Vaccines", "Patient guides"]
POST_TOPICS = {
    "What your blood pressure numbers mean": ("Heart health", "Patient guides"),
    "Flu vaccination: who, when and why": ("Vaccines",),
    "Five questions to ask before heart surgery": ("Heart health", "Patient guides"),
}


def _ethics_code() -> str:
    """The organisation's ethics code as the page's Markdown: the shared file without its top heading."""
    text = (DEMO_DATA / "ethics-code.md").read_text(encoding="utf-8")
    lines = text.splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    return "\n".join(lines).strip() + "\n"


PAGES = {
    "about": """\
This blog is written by the clinic's own staff: physicians, nurses and other clinicians writing about
their field under their own names, with their job title and department on every post.

Every post is checked against our ethics code before it goes out, and approved by an editor in Public
Affairs who did not write it. Each author keeps a conflict-of-interest disclosure on file, shown with
their posts.
""",
    "comment-policy": """\
We welcome comments that respond to what a post says. A moderator reads comments before or after they
appear.

- We remove spam, and comments that are off-topic or abusive.
- Do not share anyone's health details here, including your own: write to us privately instead.
- Staff reply under their own names, and their replies are marked as staff.
- If your comment is held for a reason you can fix (a phone number, too many links), we tell you why.

Comments on a post may close after a while, or when an editor closes them; what was published stays.
""",
    "corrections-policy": """\
We correct errors promptly and in the open.

- A correction changes the post and adds a dated note saying what changed and why.
- The original text stays readable: every post links to its history and to a view that marks each
  change inline.
- Every correction on the blog is listed on the corrections page and in its feed.
- A post we can no longer stand behind is retracted, never silently removed: it keeps its address,
  struck through, with the reason.

To report an error, use the "Report an error" form at the foot of any post.
""",
}

STAFF = [
    ("ada.okafor@clinic.example", "Dr Ada Okafor", "Cardiologist", "Cardiovascular Medicine", {Role.AUTHOR}),
    (
        "ben.lindqvist@clinic.example",
        "Ben Lindqvist, RN",
        "Nurse Educator",
        "Infectious Diseases",
        {Role.AUTHOR},
    ),
    ("erin.shah@clinic.example", "Erin Shah", "Senior Editor", "Public Affairs", {Role.EDITOR}),
    ("malik.reyes@clinic.example", "Malik Reyes", "Community Moderator", "Public Affairs", {Role.MODERATOR}),
    (
        "cory.lind@clinic.example",
        "Cory Lind",
        "Compliance Reviewer",
        "Office for Compliance",
        {Role.COMPLIANCE},
    ),
    (
        "grace.admin@clinic.example",
        "Grace Tanaka",
        "Web Administrator",
        "Information Technology",
        {Role.ADMIN},
    ),
]

POSTS = [
    (
        0,
        "What your blood pressure numbers mean",
        """\
Blood pressure is written as two numbers. The first, **systolic** pressure, is the pressure in your
arteries when your heart beats; the second, **diastolic** pressure, is the pressure between beats.

## Reading the numbers

| Category | Systolic | Diastolic |
|---|---|---|
| Normal | below 120 | below 80 |
| Elevated | 120–129 | below 80 |
| High, stage 1 | 130–139 | 80–89 |

A single high reading is not a diagnosis. Measure at the same time each day, seated, after five
minutes of rest, and bring the log to your next appointment.

- Cut back on salt.
- Move for at least 150 minutes a week.
- Take medicines exactly as prescribed.
""",
        ["https://www.heart.org/en/health-topics/high-blood-pressure/understanding-blood-pressure-readings"],
        40,
    ),
    (
        1,
        "Flu vaccination: who, when and why",
        """\
Seasonal influenza vaccination is recommended for **everyone aged six months and older**, with rare
exceptions. The best time is early autumn, before the virus circulates widely.

Vaccination lowers the risk of illness, hospital stays and death, and protects people around you who
cannot be vaccinated, such as newborns.

> It takes about two weeks after vaccination for protection to develop.

Ask at any of our clinics; no appointment is needed during the autumn campaign.
""",
        ["https://www.cdc.gov/flu/vaccines/index.html"],
        20,
    ),
    (
        0,
        "Five questions to ask before heart surgery",
        """\
Before any heart procedure, you should understand what will happen and why. Bring these questions:

1. Why do I need this procedure, and what happens if I wait?
2. What are the alternatives, including medicines?
3. How many of these procedures does this team perform each year?
4. What will recovery look like in the first six weeks?
5. Who do I call if something feels wrong after I go home?

Write the answers down, or bring someone who can take notes for you.
""",
        ["https://www.nhlbi.nih.gov/health/heart-surgery"],
        7,
    ),
]

CORRECTION = (
    "Flu vaccination: who, when and why",
    ("It takes about two weeks", "It takes about two weeks (14 days)"),
    ("everyone aged six months and older", "everyone aged 6 months and older"),
    "clarification",
    "We added the number of days it takes for protection to develop, as a reader asked.",
)


def _accounts_file(instance_path: str) -> Path:
    return Path(instance_path) / "demo-accounts.json"


def seed(session: Session, instance_path: str) -> tuple[list[tuple[str, str, str]], bool]:
    """Seed once; return the demo accounts (email, password, roles) and whether anything was created."""
    path = _accounts_file(instance_path)
    if session.scalar(select(User.id).where(User.email == STAFF[0][0])) is not None:
        saved = json.loads(path.read_text()) if path.exists() else []
        return [tuple(row) for row in saved], False  # type: ignore[misc]

    accounts: list[tuple[str, str, str]] = []
    users: list[User] = []
    for email, name, title, department, roles in STAFF:
        password = secrets.token_urlsafe(12)
        users.append(
            create_user(
                session,
                email=email,
                name=name,
                password=password,
                roles=roles,
                title=title,
                department=department,
            )
        )
        accounts.append((email, password, ", ".join(sorted(r.value for r in roles))))
    editor = users[2]
    settings = GateSettings()
    for user in users:
        record_disclosure(session, user, no_conflicts=True, interests=[])

    now = datetime.now(UTC)
    for name in TOPICS:
        topics.create_topic(session, editor, name)
    try:
        for author_index, title, body, refs, days_ago in POSTS:
            clock.freeze(now - timedelta(days=days_ago, hours=2))
            data = RevisionInput(title, body, refs, topics=POST_TOPICS[title])
            post = posts.create_draft(session, users[author_index], data)
            editorial.submit(session, users[author_index], post, settings)
            clock.freeze(now - timedelta(days=days_ago))
            assert post.current_revision is not None
            editorial.approve(session, editor, post, post.current_revision.number, settings)

        for slug, page_title in POLICY_PAGES.items():
            clock.freeze(now - timedelta(days=60, hours=1))
            body = _ethics_code() if slug == "ethics-code" else PAGES[slug]
            page = posts.create_draft(session, users[0], RevisionInput(page_title, body, []), type="page")
            editorial.submit(session, users[0], page, settings)
            clock.freeze(now - timedelta(days=60))
            assert page.current_revision is not None
            editorial.approve(session, editor, page, page.current_revision.number, settings)

        title, first, second, kind, note = CORRECTION
        post = next(
            p
            for p in posts.published_posts(session, per_page=50)[0]
            if p.current_revision and p.current_revision.title == title
        )
        current = post.current_revision
        assert current is not None
        body = current.body.replace(*first).replace(*second)
        clock.freeze(now - timedelta(days=3))
        revision, _ = editorial.revise(
            session,
            post.author,
            post,
            RevisionInput(title, body, list(current.references), kind, note),
            current.number,
        )
        editorial.submit(session, post.author, post, settings)
        editorial.approve(session, editor, post, revision.number, settings)
    finally:
        clock.freeze(None)

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(accounts, handle, indent=2)
    return accounts, True
