"""What every e-mail the blog composes needs: the blog as its links spell it (``Site``), quoting, ages.

Links in e-mail must work from a mail client, so they are absolute, built on the blog's public URL; the
web edge (or the CLI) passes a ``Site`` that knows how to spell each path (app.web.outside.site), so the
packages that compose e-mail (comments, moderation, contact) never build URLs themselves. No Flask here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from email.utils import parseaddr


@dataclass(frozen=True)
class Site:
    """What e-mails need to know about the blog: its name and public URL, the signing key, and paths."""

    name: str
    base_url: str
    secret: str
    sender: str
    post_path: Callable[[str], str]  # slug -> /posts/<slug>
    unsubscribe_path: Callable[[str], str]  # token -> /unsubscribe/<token>
    confirm_path: Callable[[str], str]  # token -> /subscriptions/confirm/<token>
    queue_path: str  # the moderation queue
    needs_reply_path: str
    comment_admin_path: Callable[[int], str]  # comment id -> its moderation page
    media_admin_path: Callable[[int], str]  # image id -> its page in the staff media library
    edit_post_path: Callable[[int], str]  # post id -> the staff editor

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path

    @property
    def sender_domain(self) -> str:
        return parseaddr(self.sender)[1].rpartition("@")[2] or "localhost"


def age(delta: timedelta) -> str:
    """ "3 days", "5 hours", "under a minute": how long something has waited."""
    minutes = int(delta.total_seconds() // 60)
    for unit, size in (("day", 1440), ("hour", 60), ("minute", 1)):
        if minutes >= size:
            n = minutes // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return "under a minute"


def quote(text: str, limit: int = 600) -> str:
    """``text`` as a reply quotes it ("> " before each line), cut at ``limit`` characters."""
    text = text if len(text) <= limit else text[:limit].rstrip() + " …"
    return "\n".join("> " + line for line in text.splitlines() or [""])
