"""Jobs that run by themselves, on Huey: e-mail, Akismet, scheduled publication, digests, link checks.

Three ways to run them, chosen once per app:

* ``REDIS_URL`` set (production): a ``RedisHuey`` queue. Web processes only enqueue; ``flask --app wsgi
  worker`` (one or more) runs the tasks and the periodic ones.
* no ``REDIS_URL`` (``make run``, or a single-process server): a ``MemoryHuey`` queue and a consumer
  thread inside the web process, started by the first request it serves. The dev server's reloader
  parent, and CLI commands, serve no request, so they never run it; nothing runs twice.
* tests (``TESTING``), or ``JOBS_MODE="immediate"``: a task runs the moment it is enqueued, in the caller.

The database, not the queue, is the source of truth: the outbox, the Akismet submissions, scheduled
approvals and job period claims. A task is a nudge to act on it now; the periodic tasks act on whatever
is due. So a queue lost with a process (several gunicorn workers without Redis, each with its own
in-memory queue) loses no e-mail: the next minute's ``mail_due`` sends it. Every task is idempotent and
safe to run twice at once: the outbox claims each message before sending it, publication locks the
post's row, Akismet rechecks skip rows another run has locked, and the daily jobs claim their day in
``job_runs`` first.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from flask import Flask, current_app
from huey import MemoryHuey, RedisHuey, crontab
from huey.api import Huey, TaskWrapper
from huey.consumer import Consumer
from huey.exceptions import RetryTask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.clock import utc_now
from app.comments import burst
from app.comments import services as comment_services
from app.db import commit, rollback, writing
from app.editorial import linkcheck
from app.editorial.gates import GateSettings
from app.editorial.services import publish_due as publish_due_posts
from app.jobs import services as job_runs
from app.mail.models import OutboxMessage, OutboxStatus
from app.mail.services import MailSettings, deliver_due, queued_ids
from app.moderation import jobs as moderation_jobs
from app.posts import media_usage
from app.spam.akismet_adapter import Verdict
from app.spam.pipeline import BURST_WINDOW, PipelineSettings
from app.web import cdn, runtime
from app.web.outside import site

log = logging.getLogger(__name__)

REDIS, THREAD, IMMEDIATE = "redis", "thread", "immediate"
AKISMET_EVERY = timedelta(minutes=10)
CHECK_RETRIES, CHECK_RETRY_SECONDS, CHECK_BACKOFF = 10, 15, 1.6  # 15 s, 24 s, 38 s ... ~45 minutes
CHECK_REENQUEUE = timedelta(minutes=5)
CHECK_GIVE_UP = timedelta(hours=1)
DAY = timedelta(days=1)

# What runs when, for the README's table and the tests: name -> (schedule, what it does).
SCHEDULE = {
    "send_mail": ("right after the commit that queued it", "send those e-mails; retry with backoff"),
    "mail_due": ("every minute", "send every e-mail that is due, retries included"),
    "publish_due": ("every minute", "publish scheduled posts whose time has come"),
    "akismet_feedback": ("right after a moderator's decision", "tell Akismet what it got wrong"),
    "check_comment": (
        "right after a comment answered 202 checking",
        "with the other comments being checked: ask Akismet, score off-topic, publish or hold; retry",
    ),
    "checks_overdue": (
        "every 5 minutes",
        "re-enqueue checks lost with a process; hold comments unchecked for an hour",
    ),
    "akismet": ("every 10 minutes", "re-check comments Akismet could not judge; resend feedback"),
    "digest": ("daily at 07:00 UTC", "e-mail each moderator the held comments"),
    "links": ("daily at 03:30 UTC", "check every link in published posts"),
    "cdn_purge": (
        "right after a commit that changed a reader page (with CANDOR_CDN_PURGE_URL)",
        "POST the changed pages' URLs to the CDN; retry with backoff",
    ),
}
PURGE_RETRIES, PURGE_RETRY_SECONDS, PURGE_BACKOFF = 8, 5, 2  # 5 s, 10 s, 20 s ... about 21 minutes


@dataclass
class Tasks:
    huey: Huey
    mode: str
    send_mail: TaskWrapper
    akismet_feedback: TaskWrapper
    check_comment: TaskWrapper
    checks_overdue: TaskWrapper
    mail_due: TaskWrapper
    publish_due: TaskWrapper
    akismet: TaskWrapper
    digest: TaskWrapper
    links: TaskWrapper
    consent_expiry: TaskWrapper
    cdn_purge: TaskWrapper


def mode_for(config: Any) -> str:
    if config.get("REDIS_URL"):
        return REDIS
    return config.get("JOBS_MODE") or (IMMEDIATE if config.get("TESTING") else THREAD)


def init_app(app: Flask) -> None:
    mode = mode_for(app.config)
    name = app.config.get("JOBS_QUEUE") or "candor"
    if mode == REDIS:
        huey: Huey = RedisHuey(name, url=app.config["REDIS_URL"], results=False, utc=True)
    else:
        huey = MemoryHuey(name, results=False, utc=True, immediate=mode == IMMEDIATE)
    app.extensions["candor.tasks"] = _register(app, huey, mode)
    if mode == THREAD:
        app.extensions["candor.consumer"] = None
        app.extensions["candor.consumer_lock"] = threading.Lock()
        app.before_request(_start_in_process_consumer)


def tasks() -> Tasks:
    return current_app.extensions["candor.tasks"]


class _InProcessConsumer(Consumer):
    """Huey's consumer without its signal handlers: it runs in threads of the web process, which owns
    the signals (the dev server, gunicorn). Its worker and scheduler threads are daemons."""

    def _set_signal_handlers(self) -> None:
        pass


def _start_in_process_consumer() -> None:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if app.extensions["candor.consumer"] is not None:
        return
    with app.extensions["candor.consumer_lock"]:
        if app.extensions["candor.consumer"] is None:
            consumer = _InProcessConsumer(app.extensions["candor.tasks"].huey, workers=2, periodic=True)
            consumer.start()
            app.extensions["candor.consumer"] = consumer
            log.info("jobs run in this process (REDIS_URL is unset)")


@contextmanager
def _unit(app: Flask, *, write_lock: bool = True) -> Iterator[Session]:
    """A job's transaction: commit, then send what it queued; roll back on any error."""
    session = app.extensions["candor.sessions"]()
    if write_lock:
        writing(session)
    try:
        with runtime.job_session(session):
            yield session
        ids = queued_ids(session)
        commit(session)
    except BaseException:
        rollback(session)
        raise
    finally:
        session.close()
    if ids:
        app.extensions["candor.tasks"].send_mail(ids)


def _claimed(app: Flask, job: str, every: timedelta) -> bool:
    """Claim this period of ``job`` in its own short transaction (for jobs that then wait on the network)."""
    with _unit(app) as session:
        return job_runs.claim(session, job, job_runs.period(utc_now(), every))


def _next_retry(app: Flask, ids: list[int]) -> float | None:
    """Seconds until the earliest of ``ids`` still queued is due again; None when all have gone."""
    session = app.extensions["candor.sessions"]()
    try:
        due = session.scalar(
            select(func.min(OutboxMessage.next_attempt_at)).where(
                OutboxMessage.id.in_(ids), OutboxMessage.status == OutboxStatus.QUEUED.value
            )
        )
    finally:
        session.close()
    return None if due is None else max(1.0, (due - utc_now()).total_seconds() + 0.5)


class CheckBatches:
    """The comment check job, in batches, for this process.

    The job for a comment, if its comment is still being checked and no batch of this process has it,
    takes up to ``size - 1`` others still being checked that arrived within ``CHECK_REENQUEUE`` and
    that no batch has (their own jobs then find them decided, or wait for the batch that has them, and
    return). Akismet is asked about them all concurrently, outside any transaction, while the batch
    before commits; the remaining checks run and every verdict is committed in one transaction. One
    batch commits at a time, at least ``interval`` seconds after the previous one: comments arriving
    meanwhile are judged together, and a busy post's page changes (and is rendered again) about once
    per interval, not once per comment.

    Answers waiting for a commit are committed together by whichever batch commits next; if that
    commit fails, the comments stay being checked and ``checks_overdue`` enqueues them again.
    A comment whose checks raise is rolled back alone (``finish_batch``) and retried by its own job.
    A comment whose Akismet answer did not come is left as it was (still being checked), except the
    job's own when it has no retries left: its own job retries it, with its backoff, and
    ``checks_overdue`` holds it "unchecked" after an hour, exactly as for a comment checked alone.
    While Akismet answers nothing, a batch asks about one comment (its own) before the others.
    Two processes may take the same comment: ``finish_checks`` locks its row and skips it if decided.
    """

    def __init__(self, size: int, interval: float) -> None:
        self.size = max(1, size)
        self.interval = interval
        self._taken: set[int] = set()  # comments in a batch of this process
        self._ready: dict[int, Any] = {}  # Akismet's answers waiting for the next commit
        self._changed = threading.Condition()
        self._commit = threading.Lock()
        self._committed = 0.0  # time.monotonic() of this process's last batch commit
        self._down = False  # the last batch that asked Akismet got no answer at all
        self._failed: set[int] = set()  # comments whose checks raised in a commit, until their job looks
        # Threads for Akismet's calls, started as needed; at most what the client's connection pool holds.
        self._pool = ThreadPoolExecutor(min(2 * self.size, 100), thread_name_prefix="candor-akismet")

    def run(self, app: Flask, comment_id: int, *, retries_left: bool) -> str | None:
        """Judge ``comment_id`` (and a batch with it); the reason to retry it later, or None when done.

        While another batch of this process has it, this job judges a batch of the comments no batch
        has (if any), then waits for that other batch and looks at its comment again."""
        while True:
            with self._changed:
                own = None if comment_id in self._taken else comment_id
                session = app.extensions["candor.sessions"]()
                try:
                    since = utc_now() - CHECK_REENQUEUE
                    batch = comment_services.pending_checks(
                        session, own, limit=self.size, since=since, but=self._taken
                    )
                    # Read only for a batch to judge: most jobs find their comment decided by another's.
                    settings = PipelineSettings.from_config(runtime.config_from(session)) if batch else None
                finally:
                    rollback(session)
                    session.close()
                self._taken.update(batch)
            try:
                retry = self._judge(app, own, batch, settings, retries_left) if batch else None
            finally:
                with self._changed:
                    self._taken.difference_update(batch)
                    self._changed.notify_all()
            if own is not None:
                return retry
            with self._changed:
                while comment_id in self._taken:
                    self._changed.wait()

    def _judge(
        self, app: Flask, comment_id: int | None, batch: dict[int, Any], settings: Any, retries_left: bool
    ) -> str | None:
        asked = {i: s for i, s in batch.items() if s is not None}
        answers: dict[int, Any] = {i: None for i in batch if i not in asked}  # nothing to ask Akismet
        started = time.monotonic()
        if self._down and len(asked) > 1:
            # Akismet gave no answer at all last time: one call first, the rest only if it answers,
            # so an outage is not asked about every waiting comment by every batch.
            first = next(iter(asked))
            answers.update(self._ask(app, {first: asked.pop(first)}))
            if answers[first].verdict is Verdict.UNAVAILABLE:
                asked = {}  # left to their own jobs and their backoff
        answers.update(self._ask(app, asked))
        answered = time.monotonic()
        got = [a for a in answers.values() if a is not None]
        if got:
            self._down = all(a.verdict is Verdict.UNAVAILABLE for a in got)
        own = answers.get(comment_id) if comment_id is not None else None
        retry = own is not None and own.verdict is Verdict.UNAVAILABLE and retries_left
        for i, answer in list(answers.items()):
            unavailable = answer is not None and answer.verdict is Verdict.UNAVAILABLE
            if unavailable and (i != comment_id or retry):
                del answers[i]  # left to its own job, its retries and the one-hour hold
        if answers:
            self._commit_with_others(app, answers, settings, answered - started)
        with self._changed:
            failed = comment_id in self._failed
            self._failed.discard(comment_id)
        if failed and retries_left:
            return "its checks raised (logged); left being checked"
        return (own.detail or "Akismet unavailable") if retry else None

    def _commit_with_others(self, app: Flask, answers: dict[int, Any], settings: Any, asking: float) -> None:
        """Commit these verdicts with every other batch's answered meanwhile, in one transaction, one such
        commit at a time and ``interval`` apart. If another batch's commit took these, nothing is left."""
        with self._changed:
            self._ready.update(answers)
        with self._commit:
            with self._changed:
                if not any(i in self._ready for i in answers):
                    return  # committed with another batch's
            wait = self._committed + self.interval - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            with self._changed:
                todo, self._ready = self._ready, {}
            begun = time.monotonic()
            with _unit(app) as session:
                here = site(runtime.config_from(session))
                failed = comment_services.finish_batch(session, todo, settings, site=here).failed
            self._committed = time.monotonic()
            with self._changed:
                self._failed.update(failed)
        log.info(
            "checked %s comment(s): Akismet %.2f s, checks and commit %.2f s",
            len(todo),
            asking,
            self._committed - begun,
        )

    def _ask(self, app: Flask, asked: dict[int, Any]) -> dict[int, Any]:
        checker = app.extensions["candor.akismet"]
        if len(asked) <= 1:
            return {i: checker.check(s) for i, s in asked.items()}
        futures = {i: self._pool.submit(checker.check, s) for i, s in asked.items()}
        return {i: f.result() for i, f in futures.items()}


def _register(app: Flask, huey: Huey, mode: str) -> Tasks:
    def mail_settings() -> MailSettings:
        return MailSettings.from_config(app.config)

    @huey.task(name="candor.send_mail", retries=5, retry_delay=30, retry_backoff=2)
    def send_mail(ids: list[int]) -> None:
        """Send these queued e-mails now; until each has gone, come back when the outbox says it is due."""
        deliver_due(app.extensions["candor.sessions"], mail_settings(), ids=ids)
        wait = _next_retry(app, ids)
        if wait is not None:
            raise RetryTask(f"e-mail {ids} not yet delivered", delay=wait)

    @huey.task(name="candor.akismet_feedback", retries=5, retry_delay=60, retry_backoff=2)
    def akismet_feedback(ids: list[int]) -> None:
        with _unit(app, write_lock=False) as session:
            moderation_jobs.send_feedback(session, app.extensions["candor.akismet"], ids=ids)

    batches = CheckBatches(
        int(app.config.get("COMMENT_CHECK_BATCH") or 1),
        0.0 if mode == IMMEDIATE else int(app.config.get("COMMENT_CHECK_INTERVAL_MS") or 0) / 1000,
    )

    @huey.task(
        name="candor.check_comment",
        retries=CHECK_RETRIES,
        retry_delay=CHECK_RETRY_SECONDS,
        retry_backoff=CHECK_BACKOFF,
        context=True,
    )
    def check_comment(comment_id: int, task: Any = None) -> None:
        """Finish the checks of a comment answered 202 "checking", with the other comments still being
        checked (``CheckBatches``): Akismet is asked outside any transaction; while it cannot answer
        this comment, retry with backoff (about 45 minutes in all), then hold with
        ``akismet:unavailable`` as a request would have (the 10-minute recheck takes over)."""
        with app.app_context():
            retry = batches.run(app, comment_id, retries_left=task is not None and task.retries > 0)
        if retry is not None:
            raise RetryTask(f"comment {comment_id}: {retry}")

    @huey.periodic_task(crontab(minute="*/5"), name="candor.checks_overdue")
    def checks_overdue() -> None:
        """No comment is lost with a queue: checks waiting over 5 minutes are enqueued again (once
        each, no retries of their own); those waiting over an hour are held for a moderator. Burst marks
        past the burst window are deleted (senders who did not come back)."""
        now = utc_now()
        with app.app_context(), _unit(app) as session:
            burst.forget_old(session, now, BURST_WINDOW)
            settings = PipelineSettings.from_config(runtime.config_from(session))
            comment_services.hold_overdue(session, now - CHECK_GIVE_UP, settings)
            late = comment_services.overdue_checks(session, now - CHECK_REENQUEUE)
        for comment_id in late:
            again = check_comment.s(comment_id)
            again.retries = 0
            huey.enqueue(again)

    @huey.periodic_task(crontab(), name="candor.mail_due")
    def mail_due() -> None:
        deliver_due(app.extensions["candor.sessions"], mail_settings())

    @huey.periodic_task(crontab(), name="candor.publish_due")
    def publish_due() -> None:
        with app.app_context(), _unit(app) as session:
            settings = GateSettings.from_config(runtime.config_from(session))
            for post in publish_due_posts(session, settings):
                log.info("published scheduled post %s", post.slug)

    @huey.periodic_task(crontab(minute="*/10"), name="candor.akismet")
    def akismet() -> None:
        checker = app.extensions["candor.akismet"]
        if not checker.settings.api_key or not _claimed(app, "akismet", AKISMET_EVERY):
            return
        with _unit(app, write_lock=False) as session:
            report = moderation_jobs.recheck_held(session, checker)
            moderation_jobs.send_feedback(session, checker, report=report)

    @huey.periodic_task(crontab(minute="0", hour="7"), name="candor.digest")
    def digest() -> None:
        with app.app_context(), _unit(app) as session:
            if job_runs.claim(session, "digest", job_runs.period(utc_now(), DAY)):
                moderation_jobs.digest(session, site(runtime.config_from(session)))

    @huey.periodic_task(crontab(minute="15", hour="7"), name="candor.consent_expiry")
    def consent_expiry() -> None:
        """Once a day: editors are mailed the live posts showing a patient whose consent ran out."""
        with app.app_context(), _unit(app) as session:
            if job_runs.claim(session, "consent_expiry", job_runs.period(utc_now(), DAY)):
                media_usage.mail_expired_consents(
                    session, site(runtime.config_from(session)), utc_now().date()
                )

    @huey.periodic_task(crontab(minute="30", hour="3"), name="candor.links")
    def links() -> None:
        if not _claimed(app, "links", DAY):
            return
        with (
            _unit(app, write_lock=False) as session,
            httpx.Client(
                timeout=10.0, follow_redirects=True, headers={"User-Agent": "Candor link checker"}
            ) as client,
        ):
            report = linkcheck.check_published_links(session, client, per_host_delay=1.0, timeout=10.0)
        log.info("link check: %s link(s), %s dead", report.checked, len(report.dead))

    @huey.task(
        name="candor.cdn_purge",
        retries=PURGE_RETRIES,
        retry_delay=PURGE_RETRY_SECONDS,
        retry_backoff=PURGE_BACKOFF,
    )
    def cdn_purge(urls: list[str], keys: list[str]) -> None:
        """Tell the CDN these pages changed (app.web.cdn); an error raises, and Huey retries."""
        target = app.config.get("CDN_PURGE_URL")
        if target:
            cdn.send_purge(target, urls, keys)

    return Tasks(
        huey,
        mode,
        send_mail,
        akismet_feedback,
        check_comment,
        checks_overdue,
        mail_due,
        publish_due,
        akismet,
        digest,
        links,
        consent_expiry,
        cdn_purge,
    )
