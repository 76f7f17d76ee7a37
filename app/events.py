"""Signals, each declared once. Receivers must not commit: they run inside the sender's transaction."""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

revision_saved = _signals.signal(
    "revision-saved", doc="A new revision of a post was stored. Sender: the Post; kw: revision."
)
post_published = _signals.signal(
    "post-published", doc="A revision became the public text of a post. Sender: the Post; kw: revision."
)
post_status_changed = _signals.signal(
    "post-status-changed", doc="A post moved in the editorial workflow. Sender: the Post; kw: old, new."
)
error_report_decided = _signals.signal(
    "error-report-decided",
    doc="An editor or author accepted or declined a reader's error report. Sender: "
    "the ErrorReport; kw: post. Receivers tell the reporter, if they left an e-mail.",
)
