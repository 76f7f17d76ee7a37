"""What a web request leaves for after its commit: the e-mail it queued and the corrections it owes Akismet.

Services only queue: a row in the outbox (``app.mail.services.queue``) or in ``akismet_submissions``
(a moderator's decision that Akismet got wrong), flushed with the change that caused it, its id noted on
the session. When a request's session commits, the ids noted in that transaction become ``on_commit``
work, which the request edge (app/web/database.py) runs right after the commit: each enqueues a task
(app/web/tasks.py) that a worker, or the web process's own job thread, runs at once. No view sends
anything, so none can forget to: error-report e-mails once waited for cron because a view did not call
the sender.

What a rolled-back transaction queued is forgotten with it. A failure while sending changes nothing
that was committed: the outbox and the Akismet queue keep what was not sent, and the periodic tasks (and
``flask mail send`` / ``flask comments recheck``) retry it. Sessions that are not a request's (the
CLI, the periodic tasks) send what they queue themselves.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from flask import Flask, current_app, g, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.db import on_commit
from app.mail.services import queued_ids
from app.moderation.services import owed_to_akismet


def init_app(app: Flask) -> None:
    """Watch every session of the app's factory (after app.web.database.init_app made it)."""
    sessions = app.extensions["candor.sessions"]
    event.listen(sessions, "before_commit", _schedule_sending)
    event.listen(sessions, "after_soft_rollback", _forget_queued)


def _schedule_sending(session: Session) -> None:
    """Just before a request's session commits: what its transaction queued goes out once it has."""
    if not has_app_context() or g.get("db") is not session:
        return  # not a request's session (the CLI, cron, a delivery worker): its owner sends
    jobs = current_app.extensions["candor.tasks"]
    mail_ids = queued_ids(session)
    akismet_ids = owed_to_akismet(session)
    if mail_ids:
        on_commit(session, partial(jobs.send_mail, mail_ids))
    if akismet_ids:
        on_commit(session, partial(jobs.akismet_feedback, akismet_ids))


def _forget_queued(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:  # the outermost transaction, not a savepoint
        queued_ids(session)
        owed_to_akismet(session)
