"""The ordered checks every reader comment passes through, each returning a verdict and a reason.

Order: honeypot, time to submit, rate (per reader IP), impersonation, link count, privacy, Akismet,
off-topic, first comment. Every check runs and every result is stored with the comment, so a moderator
sees all of them, not just the first that failed; only Akismet is skipped once an earlier check has
already found spam (a bot that filled the honeypot is not worth a network call). Nothing is dropped:
the worst verdict is the outcome's (spam > hold > publish) and the reasons say why; app.comments turns
that verdict into the comment's status.

The checks are pure except Akismet, which sits behind the injected ``AkismetChecker``; what needs the
database (how many comments this IP sent lately, whether this e-mail has been published before, what
moderators taught the off-topic scorer) is gathered by the service first, as ``Facts``, and what needs
the comment format (how many links it makes of the body) arrives with the ``Submission``. So nothing
here knows the comment model or its format. No Flask here.

Reasons (the vocabulary of ``Comment.reasons``): ``honeypot``, ``too_fast``, ``rate_limit``,
``impersonation``, ``link_count``, ``privacy:<kind>`` (one per ``app.gates.privacy.KINDS``: ssn,
nhs_number, mrn, dob, room, phone, email, …), ``akismet:spam``, ``akismet:unavailable``,
``akismet:no_key``, ``off_topic``, ``first_comment``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from app.gates.phones import DEFAULT_OTHER_REGIONS as PHONE_DEFAULT_OTHER_REGIONS
from app.gates.phones import DEFAULT_REGION as PHONE_DEFAULT_REGION
from app.gates.privacy import LABELS as PRIVACY_LABELS
from app.gates.privacy import describe, scan
from app.spam import meaning, relevance
from app.spam.akismet_adapter import AkismetResult, CommentSignals, Verdict
from app.spam.impersonation import is_impersonation

BLOG_LANG = "en"


class CheckVerdict(enum.StrEnum):
    PUBLISH = "publish"
    HOLD = "hold"
    SPAM = "spam"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class CheckResult:
    check: str
    verdict: CheckVerdict
    reasons: tuple[str, ...] = ()
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "verdict": self.verdict.value,
            "reasons": list(self.reasons),
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Submission:
    """One reader comment and what surrounds it: the post it is on and how it arrived."""

    author_name: str
    author_email: str
    body: str
    ip: str
    user_agent: str
    referrer: str
    permalink: str
    is_reply: bool
    post: relevance.PostContext
    post_modified_at: datetime | None
    submitted_at: datetime
    links: int  # links the comment format makes of ``body`` (app.comments.formatting.count_links)
    honeypot: str = ""
    form_age: timedelta | None = None  # None: unknown (no token, or an invalid one)


@dataclass(frozen=True)
class PipelineSettings:
    max_links: int = 2
    min_seconds: float = 3.0
    burst: int = 3  # comments from one IP within BURST_WINDOW before the next is held
    staff_names: Sequence[str] = ()
    organisation_names: Sequence[str] = ()
    staff_emails: frozenset[str] = frozenset()
    privacy_terms: Sequence[str] = ()
    privacy_allow: Sequence[str] = ()
    phone_region: str = PHONE_DEFAULT_REGION
    phone_regions: Sequence[str] = PHONE_DEFAULT_OTHER_REGIONS
    off_topic_threshold: float = meaning.THRESHOLD
    off_topic_mode: str = "hold"  # "log": the verdict is recorded, the comment never held for it
    off_topic_small_blog: str = "flag"  # "flag": below meaning.FULL_BLOG other posts, as "log"; "hold"

    @classmethod
    def from_config(cls, config: Any, **facts: Any) -> PipelineSettings:
        return cls(
            max_links=int(config.get("COMMENT_MAX_LINKS", 2)),
            min_seconds=float(config.get("COMMENT_MIN_SECONDS", 3.0)),
            burst=int(config.get("COMMENT_BURST", 3)),
            organisation_names=[n for n in (config.get("ORGANISATION"), config.get("SITE_NAME")) if n],
            privacy_terms=list(config.get("PRIVACY_TERMS") or ()),
            privacy_allow=list(config.get("PRIVACY_ALLOW") or ()),
            phone_region=config.get("PHONE_REGION") or PHONE_DEFAULT_REGION,
            phone_regions=list(config.get("PHONE_REGIONS", PHONE_DEFAULT_OTHER_REGIONS)),
            off_topic_threshold=int(config.get("OFFTOPIC_THRESHOLD", 52)) / 100,
            off_topic_mode=str(config.get("OFFTOPIC_MODE", "hold")),
            off_topic_small_blog=str(config.get("OFFTOPIC_SMALL_BLOG", "flag")),
            **facts,
        )


BURST_WINDOW = timedelta(minutes=10)


@dataclass(frozen=True)
class Facts:
    """What the database knows that the checks need."""

    recent_from_ip: int = 0  # comments from this IP within BURST_WINDOW, this one not counted
    returning_commenter: bool = False  # a comment from this e-mail was published before
    feedback: relevance.Feedback | None = None  # the lexicon's, used only when ``knowledge`` is None
    knowledge: meaning.Knowledge | None = None  # the post's stored vectors and the nearest decisions


@dataclass
class Outcome:
    verdict: CheckVerdict  # the worst of the checks': SPAM, HOLD or PUBLISH (never SKIPPED)
    reasons: list[str]
    checks: list[CheckResult]
    relevance: relevance.Relevance | None = None
    akismet_verdict: str = ""

    @property
    def checks_json(self) -> list[dict[str, Any]]:
        return [c.as_dict() for c in self.checks]


# --- the checks ---------------------------------------------------------------------------------------


def check_honeypot(sub: Submission, _s: PipelineSettings, _f: Facts) -> CheckResult:
    if sub.honeypot.strip():
        return CheckResult("honeypot", CheckVerdict.SPAM, ("honeypot",), "the hidden field was filled in")
    return CheckResult("honeypot", CheckVerdict.PUBLISH, detail="the hidden field was left empty")


def check_time_to_submit(sub: Submission, settings: PipelineSettings, _f: Facts) -> CheckResult:
    """Too fast to have been typed is held; an unknown time (no script, API call) is no evidence."""
    if sub.form_age is None:
        return CheckResult(
            "time_to_submit", CheckVerdict.PUBLISH, detail="unknown: the form carried no valid time token"
        )
    seconds = sub.form_age.total_seconds()
    if seconds < settings.min_seconds:
        return CheckResult(
            "time_to_submit",
            CheckVerdict.HOLD,
            ("too_fast",),
            f"sent {max(seconds, 0):.1f} s after the form was shown (minimum {settings.min_seconds:g} s)",
        )
    return CheckResult(
        "time_to_submit", CheckVerdict.PUBLISH, detail=f"sent {seconds:.0f} s after the form was shown"
    )


def check_rate(sub: Submission, settings: PipelineSettings, facts: Facts) -> CheckResult:
    minutes = int(BURST_WINDOW.total_seconds() // 60)
    detail = f"{facts.recent_from_ip} other comment(s) from this IP in the last {minutes} minutes"
    if facts.recent_from_ip >= settings.burst:
        return CheckResult("rate_limit", CheckVerdict.HOLD, ("rate_limit",), detail)
    return CheckResult("rate_limit", CheckVerdict.PUBLISH, detail=detail)


def check_impersonation(sub: Submission, settings: PipelineSettings, _f: Facts) -> CheckResult:
    if sub.author_email.lower() in settings.staff_emails:
        return CheckResult(
            "impersonation",
            CheckVerdict.HOLD,
            ("impersonation",),
            "uses a staff member's e-mail address (staff comment signed in)",
        )
    found = is_impersonation(sub.author_name, settings.staff_names, settings.organisation_names)
    if found:
        return CheckResult("impersonation", CheckVerdict.HOLD, ("impersonation",), f"the name {found}")
    return CheckResult("impersonation", CheckVerdict.PUBLISH, detail="the name resembles no staff member")


def check_links(sub: Submission, settings: PipelineSettings, _f: Facts) -> CheckResult:
    detail = f"{sub.links} link(s); at most {settings.max_links} are published without review"
    if sub.links > settings.max_links:
        return CheckResult("link_count", CheckVerdict.HOLD, ("link_count",), detail)
    return CheckResult("link_count", CheckVerdict.PUBLISH, detail=detail)


def check_privacy(sub: Submission, settings: PipelineSettings, _f: Facts) -> CheckResult:
    findings = scan(
        sub.body,
        settings.privacy_terms,
        settings.privacy_allow,
        region=settings.phone_region,
        other_regions=settings.phone_regions,
    )
    if not findings:
        return CheckResult("privacy", CheckVerdict.PUBLISH, detail="no personal identifiers found")
    kinds = tuple(dict.fromkeys(f"privacy:{f.kind}" for f in findings))
    return CheckResult("privacy", CheckVerdict.HOLD, kinds, "; ".join(describe(f) for f in findings[:5]))


LOGGED = "log only, not held"
"""How the off_topic check's detail begins when it found a comment off-topic and did not hold it (log
mode, or a small blog): app.comments.learning and the moderation desk's flagged filter read it."""


FLAGGED = "off_topic:flagged"
"""The moderation desk's filter (not a reason: nothing was held) for comments the off-topic filter found
off-topic and only recorded, their off_topic check's detail beginning with LOGGED."""


def check_off_topic(
    sub: Submission, settings: PipelineSettings, facts: Facts
) -> tuple[CheckResult, relevance.Relevance]:
    """Scored by meaning when the post's vectors are known, else by the lexicon (its own threshold).

    In log mode a comment scored off-topic is published, and the detail says it would have been held:
    an organisation watches the filter before trusting it. The filter only ever holds; nothing is deleted.
    On a blog with fewer than ``meaning.FULL_BLOG`` other published posts (the count the scorer weighed)
    the same is done unless ``off_topic_small_blog`` is "hold": there the filter cannot compare a comment
    with enough of the blog (issue 14: no threshold reaches precision 0.9 in every subject group), and a
    false hold tells a reader their question was unwelcome. The lexicon's fallback has no such count.
    """
    result: relevance.Relevance
    if facts.knowledge is not None:
        threshold = settings.off_topic_threshold
        result = meaning.score(sub.body, sub.post, facts.knowledge, threshold=threshold)
    else:
        threshold = relevance.THRESHOLD
        result = relevance.score(sub.body, sub.post, facts.feedback, threshold)
    words = "; ".join(f"{word} ({weight:+.2f})" for word, weight in result.drivers[:5])
    detail = f"relevance {result.score:.2f} (threshold {threshold:.2f}): {words or 'no words'}"
    if result.on_topic:
        return CheckResult("off_topic", CheckVerdict.PUBLISH, detail=detail), result
    if settings.off_topic_mode == "log":
        detail = f"{LOGGED} (CANDOR_OFFTOPIC_MODE=log): would hold; {detail}"
        return CheckResult("off_topic", CheckVerdict.PUBLISH, detail=detail), result
    scored = result if isinstance(result, meaning.Scored) else None
    others = scored.features.get("others") if scored is not None else None
    # Advertising is told from the comment alone, not by comparing it with the blog's other posts: an
    # advertisement is held on a small blog too.
    advert = scored is not None and 1 - scored.features.get("advertising", 0.0) < settings.off_topic_threshold
    small = others is not None and others < meaning.FULL_BLOG
    if settings.off_topic_small_blog != "hold" and small and not advert:
        detail = (
            f"{LOGGED} (CANDOR_OFFTOPIC_SMALL_BLOG=flag): would hold; the blog has fewer than "
            f"{meaning.FULL_BLOG} other posts to compare with; {detail}"
        )
        return CheckResult("off_topic", CheckVerdict.PUBLISH, detail=detail), result
    return CheckResult("off_topic", CheckVerdict.HOLD, ("off_topic",), detail), result


def check_first_comment(sub: Submission, _s: PipelineSettings, facts: Facts) -> CheckResult:
    if facts.returning_commenter:
        return CheckResult(
            "first_comment", CheckVerdict.PUBLISH, detail="this e-mail address has been published before"
        )
    return CheckResult(
        "first_comment",
        CheckVerdict.HOLD,
        ("first_comment",),
        "no comment from this e-mail address has been published yet",
    )


def signals(sub: Submission, *, recheck_reason: str | None = None) -> CommentSignals:
    """Everything Akismet weighs about the comment."""
    return CommentSignals(
        user_ip=sub.ip or "0.0.0.0",
        user_agent=sub.user_agent,
        referrer=sub.referrer,
        permalink=sub.permalink,
        comment_type="reply" if sub.is_reply else "comment",
        comment_author=sub.author_name,
        comment_author_email=sub.author_email,
        comment_content=sub.body,
        blog_lang=BLOG_LANG,
        comment_date_gmt=sub.submitted_at,
        comment_post_modified_gmt=sub.post_modified_at,
        recheck_reason=recheck_reason,
    )


def akismet_result(checker: Asks, signals_: CommentSignals) -> tuple[CheckResult, str]:
    """Akismet's verdict as a check: spam, ham, or held because there is no usable answer."""
    result = checker.check(signals_)
    verdict = result.verdict
    if verdict.is_spam:
        detail = result.detail + (
            " (Akismet says it need not be kept; kept anyway)" if verdict is Verdict.DISCARD else ""
        )
        return CheckResult("akismet", CheckVerdict.SPAM, ("akismet:spam",), detail), verdict.value
    if verdict is Verdict.HAM:
        return CheckResult("akismet", CheckVerdict.PUBLISH, detail=result.detail), verdict.value
    if verdict is Verdict.NO_KEY:
        return CheckResult(
            "akismet",
            CheckVerdict.HOLD,
            ("akismet:no_key",),
            "no Akismet key is configured, so no comment is published unchecked",
        ), verdict.value
    return CheckResult("akismet", CheckVerdict.HOLD, ("akismet:unavailable",), result.detail), verdict.value


Check = Callable[[Submission, PipelineSettings, Facts], CheckResult]
BEFORE_AKISMET: tuple[Check, ...] = (
    check_honeypot,
    check_time_to_submit,
    check_rate,
    check_impersonation,
    check_links,
    check_privacy,
)


class Asks(Protocol):
    """Whatever answers Akismet's question: the adapter, a budgeted wrapper at the edge, ``Answered``."""

    def check(self, signals: CommentSignals) -> AkismetResult: ...


class Deferred(Exception):  # noqa: N818 - a state, not a failure
    """A check could not finish within the time the caller allowed (the request's budget): the comment
    is stored as being checked, and the job on the queue finishes its checks."""


class Answered:
    """A checker that already has Akismet's answer (asked outside any transaction, by the job)."""

    def __init__(self, result: AkismetResult | None) -> None:
        self.result = result

    def check(self, _signals: CommentSignals) -> AkismetResult:
        if self.result is None:
            raise AssertionError("Akismet was not asked, yet its answer is needed")
        return self.result


def run_local(sub: Submission, settings: PipelineSettings, facts: Facts) -> list[CheckResult]:
    """The checks that need nothing outside the process: honeypot, time, rate, impersonation, links,
    privacy. They run in the request, which alone knows the form's age and the hidden field."""
    return [check(sub, settings, facts) for check in BEFORE_AKISMET]


# What only the request knows (the hidden field, the form's age) or must count as it arrives (the
# address's burst): run when a comment is stored, before it is answered. They are the first three of
# ``BEFORE_AKISMET``; the job runs the rest (``complete_local``).
AT_ARRIVAL: tuple[Check, ...] = BEFORE_AKISMET[:3]
ARRIVAL_NAMES = ("honeypot", "time_to_submit", "rate_limit")


def run_at_arrival(sub: Submission, settings: PipelineSettings, facts: Facts) -> list[CheckResult]:
    """Honeypot, time to submit and rate: pure and cheap, and they need what only the request has."""
    return [check(sub, settings, facts) for check in AT_ARRIVAL]


def complete_local(
    sub: Submission, settings: PipelineSettings, facts: Facts, stored: Sequence[CheckResult]
) -> list[CheckResult]:
    """The local checks of a comment stored with only its arrival checks run (``run_at_arrival``): those
    results, then impersonation, links and privacy run now. A comment whose local checks all ran
    (answered by the inline path) is returned as stored."""
    results = list(stored)
    if tuple(r.check for r in results) != ARRIVAL_NAMES:
        return results
    return results + [check(sub, settings, facts) for check in BEFORE_AKISMET[len(AT_ARRIVAL) :]]


def needs_akismet(local: Sequence[CheckResult]) -> bool:
    return not any(r.verdict is CheckVerdict.SPAM for r in local)


def run_remote(
    sub: Submission,
    settings: PipelineSettings,
    facts: Facts,
    local: Sequence[CheckResult],
    checker: Asks,
) -> Outcome:
    """Akismet (unless ``local`` already found spam), off-topic and first comment, after ``local``.
    ``checker.check`` may raise ``Deferred``; nothing is decided then."""
    results = list(local)
    akismet_verdict = ""
    if not needs_akismet(local):
        results.append(
            CheckResult("akismet", CheckVerdict.SKIPPED, detail="not asked: already found to be spam")
        )
    else:
        result, akismet_verdict = akismet_result(checker, signals(sub))
        results.append(result)
    topical, scored = check_off_topic(sub, settings, facts)
    results.append(topical)
    results.append(check_first_comment(sub, settings, facts))
    return _outcome(results, scored, akismet_verdict)


def run(sub: Submission, settings: PipelineSettings, facts: Facts, checker: Asks) -> Outcome:
    """Every check in order; the worst verdict is the outcome's, and every reason is kept."""
    return run_remote(sub, settings, facts, run_local(sub, settings, facts), checker)


def results_from_json(checks: Sequence[dict[str, Any]]) -> list[CheckResult]:
    """Stored check results (``Outcome.checks_json``) read back."""
    return [
        CheckResult(c["check"], CheckVerdict(c["verdict"]), tuple(c.get("reasons", ())), c.get("detail", ""))
        for c in checks
    ]


def _outcome(results: list[CheckResult], scored: relevance.Relevance | None, akismet_verdict: str) -> Outcome:
    reasons = list(dict.fromkeys(r for result in results for r in result.reasons))
    verdicts = {r.verdict for r in results}
    worst = (
        CheckVerdict.SPAM
        if CheckVerdict.SPAM in verdicts
        else CheckVerdict.HOLD
        if CheckVerdict.HOLD in verdicts
        else CheckVerdict.PUBLISH
    )
    return Outcome(worst, reasons, results, scored, akismet_verdict)


def recheck(checks: list[dict[str, Any]], akismet: CheckResult, akismet_verdict: str) -> Outcome:
    """The outcome after Akismet answered a second time: its old result replaced, the rest kept."""
    results = [
        CheckResult(c["check"], CheckVerdict(c["verdict"]), tuple(c.get("reasons", ())), c.get("detail", ""))
        for c in checks
        if c.get("check") != "akismet"
    ]
    position = next((i for i, c in enumerate(checks) if c.get("check") == "akismet"), len(results))
    results.insert(position, akismet)
    return _outcome(results, None, akismet_verdict)


# --- telling the writer -------------------------------------------------------------------------------


def _article(label: str) -> str:
    """'an' before a vowel sound ("an NHS number", "an email address"), else 'a'."""
    return "an" if label[0].lower() in "aeiou" or label.startswith(("NHS", "MRN")) else "a"


# Reasons the writer can fix, and what to tell them. The others are a moderator's call, and a spammer
# learns nothing from a bare "awaits review".
FIXABLE: dict[str, str] = {
    "link_count": "It has more links than we publish without a moderator's look.",
    "impersonation": (
        "The name given looks like a member of staff or the organisation. Staff comment signed "
        "in; if this is simply your name, a moderator will publish it."
    ),
    "too_fast": "It was sent very quickly after the page opened, as automated posts are.",
    **{
        f"privacy:{kind}": f"It seems to contain {_article(label)} {label}. To protect your privacy, "
        "and others', please do not post personal identifiers."
        for kind, label in PRIVACY_LABELS.items()
    },
}


CHECKING = "checking"  # stored, answered, and waiting for its remaining checks (Akismet, off-topic)
UNCHECKED = "unchecked"  # its checks did not finish within an hour: a moderator decides
RETRACTED = "post_retracted"  # accepted before its post was retracted, judged after: never published

WRITER_REASONS = frozenset({"link_count", "too_fast", "off_topic", CHECKING})
"""Reason codes the comment API tells an anonymous writer (with every ``privacy:<kind>``)."""


def reasons_for_writer(reasons: Sequence[str]) -> list[str]:
    """The reasons a writer can act on; everything else reads as "awaits review"."""
    return [r for r in reasons if r in WRITER_REASONS or r.startswith("privacy:")]


def explain_for_writer(reasons: Sequence[str]) -> list[str]:
    """What the writer is told about why their comment is held: only what they can fix themselves."""
    return list(dict.fromkeys(FIXABLE[r] for r in reasons if r in FIXABLE))


def reason_label(reason: str) -> str:
    """A moderator-readable label for one reason code."""
    if reason.startswith("privacy:"):
        return f"Privacy: {PRIVACY_LABELS.get(reason.removeprefix('privacy:'), reason)}"
    return REASON_LABELS.get(reason, reason)


REASON_LABELS: dict[str, str] = {
    "honeypot": "Honeypot filled",
    "too_fast": "Sent too fast",
    "rate_limit": "Many comments from one IP",
    "impersonation": "Looks like staff or the organisation",
    "link_count": "Too many links",
    "akismet:spam": "Akismet: spam",
    "akismet:unavailable": "Akismet unavailable",
    "akismet:no_key": "No Akismet key",
    "off_topic": "Off-topic",
    "first_comment": "First comment",
    CHECKING: "Being checked",
    UNCHECKED: "Checks did not finish within an hour",
    RETRACTED: "Its post was retracted while it was being checked",
    # Given by the WordPress import (app/importer) to a comment brought in with the state it had there.
    "wordpress:pending": "Imported: pending on WordPress",
    "wordpress:spam": "Imported: spam on WordPress",
    "wordpress:trash": "Imported: in WordPress's trash",
}

ALL_REASONS: tuple[str, ...] = (*REASON_LABELS, *(f"privacy:{k}" for k in PRIVACY_LABELS))


def sorted_reasons(found: Sequence[str]) -> list[str]:
    order = {r: i for i, r in enumerate(ALL_REASONS)}
    return sorted(set(found), key=lambda r: (order.get(r, len(order)), r))
