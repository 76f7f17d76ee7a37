"""Find the patient identifiers a pattern can find, before a post is submitted or a comment is shown.

The ethics code's first rule is "you must maintain patient privacy". Software cannot judge whether a
story identifies a patient, but it can stop the mechanical leaks: a social security number, a medical
record number, a phone number or a date of birth pasted into a draft. Names in running prose are
invisible to a pattern, so the operator can list them (``extra_terms``).

Every finding carries a position (line and column, both 1-based) and a masked excerpt, so the message
that reports a leak never repeats it: error pages, audit entries and notification emails stay clean.

Patterns are written to stay linear on hostile input (a 100 KB comment is ordinary for a spammer). Each
attempt may only start where a lookbehind allows (the start of a digit run, a cue word, a ``+``); every
quantifier is bounded, and the ambiguous ones are possessive, so each start costs a constant amount of
work. ``tests/test_gates_privacy.py`` runs every pattern against such strings.

Numbers are ambiguous, so most kinds need either a strict shape (``123-45-6789``, ``(507) 284-2511``) or
a cue word in front (``MRN``, ``DOB``, ``policy number``). That keeps years, dosages, ZIP codes, page
ranges, DOIs and the clinic's short internal extensions (``4-5005``) out of the findings.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable, Iterable
from dataclasses import dataclass

KINDS: tuple[str, ...] = ("ssn", "mrn", "account", "dob", "phone", "email", "address", "term")
"""Every kind, in priority order: when two findings overlap, the earlier kind wins a tie."""

LABELS: dict[str, str] = {
    "ssn": "social security number",
    "mrn": "medical record number",
    "account": "account, member or policy number",
    "dob": "date of birth",
    "phone": "phone number",
    "email": "email address",
    "address": "street address",
    "term": "listed term",
}

MASK = "•"
CONTEXT_CHARS = 12


@dataclass(frozen=True)
class Finding:
    """One identifier: its offsets, its 1-based line and column, and a masked excerpt around it."""

    kind: str
    start: int
    end: int
    excerpt: str
    line: int
    column: int


# --- building blocks --------------------------------------------------------------------------------

# Punctuation or spaces between a cue and what follows it; never crosses a line.
_GAP = r"[^\w\n]{0,4}"
# "MRN is 123", "SSN: no. 123", "call me at ...": a few filler words may sit between cue and value.
_CONNECT = rf"{_GAP}(?:(?:number|num|nr|no|id|is|was|at|me|us|on)\b{_GAP}){{0,3}}"
# A number must not run on into more digits or words ("123-45-67890", "555-1234x").
_NUM_END = r"(?!\w|[-./]\d)"
# An identifier after a cue: letters, digits, inner hyphens, digit groups split by single spaces.
_IDENT = r"[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])|(?<=\d) (?=\d)){3,29}+(?![\w-])"


def _cue(strong: str, weak: str = "") -> str:
    """A cue: strong words stand alone ("MRN"); weak ones need a number word after them ("policy no.")."""
    weak_part = rf"|(?:{weak})\s{{0,2}}(?:(?:number|num|nr|no|id|identifier)\b|#)" if weak else ""
    return rf"(?<!\w)(?:(?:{strong})\b{weak_part})"


_SSN_SHAPE = r"\d{3}(?P<s>[- ]?)\d{2}(?P=s)\d{4}"

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
_YEAR = r"(?:1[89]|20)\d\d"
_DATE = (
    r"\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})"  # 03/14/1962, 14.03.62
    r"|\d{4}-\d{1,2}-\d{1,2}"  # 1962-03-14
    rf"|{_MONTH}\s{{1,3}}{_DAY}(?:,?\s{{1,3}}{_YEAR})?"  # March 14, 1962; Mar 14
    rf"|{_DAY}\s{{1,3}}(?:of\s{{1,3}})?{_MONTH}(?:,?\s{{1,3}}{_YEAR})?"  # 14 March 1962
    rf"|{_MONTH}\s{{1,3}}{_YEAR}"  # March 1962: HIPAA counts the month as an identifier too
)

# Street names are capitalised words or ordinals; "St" and "Dr" followed by a capitalised name read as
# a saint or a doctor ("3 Residents Dr. Smith"), so they do not end an address there.
_STREET_WORD = r"(?:[A-Z][A-Za-z'-]{0,24}+|\d{1,3}(?:st|nd|rd|th))"
_SUFFIX = (
    r"(?:(?i:st|dr)\b(?!\.?\s{1,2}[A-Z][a-z])"
    r"|(?i:street|avenue|ave|road|rd|boulevard|blvd|drive|lane|ln|court|ct|place|pl|way|terrace|ter"
    r"|circle|cir|parkway|pkwy|highway|hwy|square|sq|trail|trl|crescent|alley)\b)\.?"
)
_DIRECTION = r"(?:N|S|E|W|NE|NW|SE|SW|North|South|East|West)\b\.?"
_UNIT = (
    r"(?:,?\s{1,2}(?:(?i:apt|apartment|suite|ste|unit|room|rm|floor|fl)\.?\s{0,2}#?\s?|#\s?)"
    r"[A-Za-z0-9][A-Za-z0-9-]{0,5}+(?![\w-]))"
)

_YEAR_RANGE = re.compile(r"(?:19|20)\d\d\s?[-/]\s?(?:(?:19|20)\d\d|\d\d)")
_DOI = re.compile(r"10\.\d{4,9}/")
_DIGIT = re.compile(r"\d")
_NOT_DIGIT = re.compile(r"\D")
_PHONEISH = re.compile(r"\+?[\d\s().-]{7,40}")


# --- validators: what a regex cannot say cheaply -----------------------------------------------------


def _always(_: str) -> bool:
    return True


def _valid_ssn(value: str) -> bool:
    """SSA rules: no area 000, 666 or 9xx; no group 00; no serial 0000."""
    digits = _NOT_DIGIT.sub("", value)
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def _valid_ident(value: str) -> bool:
    """At least five characters with four digits, and not a year range ("policy no. 2019-2020")."""
    alnum = sum(ch.isalnum() for ch in value)
    digits = len(_DIGIT.findall(value))
    return alnum >= 5 and digits >= 4 and not _YEAR_RANGE.fullmatch(value)


def _valid_date(value: str) -> bool:
    """Numeric dates must be a real month and day in either order (US or European)."""
    parts = re.split(r"[/.-]", value)
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return True  # month-name formats are validated by the pattern itself
    a, b, c = (int(p) for p in parts)
    if len(parts[0]) == 4:  # ISO year-month-day
        return 1 <= b <= 12 and 1 <= c <= 31
    return (1 <= a <= 12 and 1 <= b <= 31) or (1 <= b <= 12 and 1 <= a <= 31)


def _valid_international(value: str) -> bool:
    """E.164 allows at most 15 digits; fewer than 8 is a score or a sum, not a phone number."""
    return 8 <= len(_DIGIT.findall(value)) <= 15


@dataclass(frozen=True)
class _Rule:
    kind: str
    pattern: re.Pattern[str]
    valid: Callable[[str], bool] = _always
    numeric: bool = False  # subject to the ISBN / DOI context guard


_I = re.IGNORECASE

_RULES: tuple[_Rule, ...] = (
    # 123-45-6789 or 123 45 6789; the spaced form must not sit inside a longer run of spaced numbers.
    _Rule("ssn", re.compile(r"(?<![\w-])(?P<id>\d{3}-\d{2}-\d{4})" + _NUM_END), _valid_ssn, numeric=True),
    _Rule(
        "ssn",
        re.compile(r"(?<![\w-])(?<!\d )(?P<id>\d{3} \d{2} \d{4})(?! \d)" + _NUM_END),
        _valid_ssn,
        numeric=True,
    ),
    # A bare 123456789 is only an SSN when something says so.
    _Rule(
        "ssn",
        re.compile(
            _cue(r"ssn|social\s{1,3}security", r"ss") + _CONNECT + rf"(?P<id>{_SSN_SHAPE})" + _NUM_END, _I
        ),
        _valid_ssn,
        numeric=True,
    ),
    _Rule(
        "mrn",
        re.compile(
            _cue(r"mrn|med(?:ical)?\.?\s{1,3}rec(?:ord)?s?", r"mr|patient|chart|hospital|record|case")
            + _CONNECT
            + rf"(?P<id>{_IDENT})",
            _I,
        ),
        _valid_ident,
    ),
    _Rule(
        "account",
        re.compile(
            _cue(
                r"(?:bank\s{1,3})?(?:account|acct|a/c)",
                r"member(?:ship)?|policy|subscriber|insurance|group|claim|beneficiary|billing",
            )
            + _CONNECT
            + rf"(?P<id>{_IDENT})",
            _I,
        ),
        _valid_ident,
    ),
    _Rule(
        "dob",
        re.compile(
            _cue(r"dob|d\.o\.b|date\s{1,3}of\s{1,3}birth|birth\s{0,2}date|birthday|born(?:\s{1,3}(?:on|in))?")
            + _CONNECT
            + rf"(?P<id>{_DATE})(?!\w|[-./]\d)",
            _I,
        ),
        _valid_date,
    ),
    # North American numbers need a separator or parentheses: a bare ten-digit run could be anything.
    _Rule(
        "phone",
        re.compile(
            r"(?<![\w+/.-])(?P<id>(?:\+?1[ .-]?)?(?:\([2-9]\d\d\)[ ]?|[2-9]\d\d[ .-])[2-9]\d\d[ .-]\d{4})"
            + _NUM_END
        ),
        numeric=True,
    ),
    # With a cue, a bare ten-digit number or a seven-digit local number is a phone number too.
    _Rule(
        "phone",
        re.compile(
            _cue(r"phone|telephone|tel|cell|mobile|fax|call|text|pager|ph")
            + _CONNECT
            + r"(?P<id>(?:\+?1)?[2-9]\d{2}[2-9]\d{6}|[2-9]\d{2}[ .-]\d{4})"
            + _NUM_END,
            _I,
        ),
        numeric=True,
    ),
    # International: a "+", a country code, then separated groups (or a compact E.164 run).
    _Rule(
        "phone",
        re.compile(
            r"(?<![\w+])(?P<id>\+[1-9]\d{0,2}(?:[ .-]?\(\d{1,4}\))?[ .-]?\d{1,5}+(?:[ .-]\d{1,5}+){1,6}+"
            r"|\+[1-9]\d{7,14}+)" + _NUM_END
        ),
        _valid_international,
        numeric=True,
    ),
    _Rule(
        "email",
        re.compile(
            r"(?<![\w.%+-])(?P<id>[a-z0-9._%+-]{1,64}+@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.){1,8}[a-z]{2,24})"
            r"(?![\w-]|\.[a-z0-9])",
            _I,
        ),
    ),
    _Rule(
        "address",
        re.compile(
            rf"(?<![\w.,/-])(?P<id>\d{{1,6}}[A-Za-z]?(?:\s{{1,2}}{_DIRECTION})?(?:\s{{1,2}}{_STREET_WORD}){{1,4}}"
            rf"\s{{1,2}}{_SUFFIX}(?:\s{{1,2}}{_DIRECTION})?{_UNIT}?)"
        ),
    ),
)


def _term_rule(terms: Iterable[str]) -> _Rule | None:
    """Operator terms match whole words, case-insensitively, with any run of spaces between words."""
    cleaned = {" ".join(term.split()) for term in terms}
    cleaned.discard("")
    if not cleaned:
        return None
    # Longest first, so "room 412" wins over "room 41" at the same place.
    alternatives = [
        r"\s{1,5}".join(re.escape(word) for word in term.split())
        for term in sorted(cleaned, key=lambda t: (-len(t), t))
    ]
    pattern = re.compile(r"(?<!\w)(?P<id>" + "|".join(alternatives) + r")(?!\w)", _I)
    return _Rule("term", pattern)


# --- guards, normalisation, masking ------------------------------------------------------------------


def _reference_context(text: str, start: int) -> bool:
    """True when a number is part of an ISBN or a DOI, which cite a source and identify no one."""
    before = text[max(0, start - 200) : start]
    if "isbn" in before[-20:].casefold():
        return True
    token = before.rsplit(None, 1)[-1] if before and not before[-1].isspace() else ""
    return bool(_DOI.search(token))


def _normalise(value: str) -> str:
    """Compare allow-list entries by meaning: phone-like values by digits (a leading US 1 dropped)."""
    stripped = value.strip()
    if _PHONEISH.fullmatch(stripped) and len(_DIGIT.findall(stripped)) >= 7:
        digits = _NOT_DIGIT.sub("", stripped)
        return digits[1:] if len(digits) == 11 and digits.startswith("1") else digits
    return " ".join(stripped.casefold().split())


def mask(value: str) -> str:
    """Hide every letter and digit but the last two; short values are hidden entirely.

    Punctuation stays, so "(•••) •••-••11" still reads as a phone number. Values with fewer than five
    letters and digits reveal less (four or fewer: nothing), or a short name would be shown whole.
    """
    alnum = sum(ch.isalnum() for ch in value)
    reveal = min(2, max(0, alnum - 4))
    out: list[str] = []
    for ch in reversed(value):
        if ch.isalnum():
            if reveal:
                reveal -= 1
                out.append(ch)
            else:
                out.append(MASK)
        else:
            out.append(ch)
    return "".join(reversed(out))


def _excerpt(text: str, spans: list[tuple[int, int]], index: int) -> str:
    """A short window around ``spans[index]`` with every identifier inside it masked."""
    start, end = spans[index]
    lo = max(text.rfind("\n", 0, start) + 1, start - CONTEXT_CHARS)
    line_end = text.find("\n", end)
    hi = min(len(text) if line_end == -1 else line_end, end + CONTEXT_CHARS)
    first = index
    while first > 0 and spans[first - 1][1] > lo:
        first -= 1
    pieces: list[str] = []
    pos = lo
    k = first
    while k < len(spans) and spans[k][0] < hi:
        s, e = spans[k]
        cut_s, cut_e = max(s, lo), min(e, hi)
        pieces.append(text[pos:cut_s])
        pieces.append(mask(text[s:e])[cut_s - s : cut_e - s])
        pos = cut_e
        k += 1
    pieces.append(text[pos:hi])
    body = re.sub(r"\s", " ", "".join(pieces)).strip()
    prefix = "…" if lo > 0 and text[lo - 1] != "\n" else ""
    suffix = "…" if hi < len(text) and text[hi] != "\n" else ""
    return f"{prefix}{body}{suffix}"


def _resolve(candidates: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Keep non-overlapping findings: earliest first, then longest, then the higher-priority kind."""
    candidates.sort(key=lambda c: (c[0], c[0] - c[1], c[2]))
    kept: list[tuple[int, int, int]] = []
    for cand in candidates:
        if kept and cand[0] < kept[-1][1]:
            continue
        kept.append(cand)
    return kept


# --- public API ----------------------------------------------------------------------------------------


def scan(text: str, extra_terms: Iterable[str] = (), allow: Iterable[str] = ()) -> list[Finding]:
    """Every identifier in ``text``, in order of position.

    :param extra_terms: operator-supplied words or phrases (patient names, "room 412") matched as
        whole words, case-insensitively.
    :param allow: values that are public on purpose, such as the clinic's published phone number or
        press address; a finding whose value normalises to one of them is skipped.
    """
    rules = list(_RULES)
    term_rule = _term_rule(extra_terms)
    if term_rule is not None:
        rules.append(term_rule)
    allowed = {_normalise(value) for value in allow if value.strip()}
    priority = {kind: rank for rank, kind in enumerate(KINDS)}

    candidates: list[tuple[int, int, int]] = []
    kind_of: dict[int, str] = {}
    for rule in rules:
        rank = priority[rule.kind]
        kind_of[rank] = rule.kind
        for match in rule.pattern.finditer(text):
            value = match.group("id")
            start, end = match.span("id")
            if not rule.valid(value):
                continue
            if rule.numeric and _reference_context(text, start):
                continue
            if allowed and _normalise(value) in allowed:
                continue
            candidates.append((start, end, rank))

    kept = _resolve(candidates)
    spans = [(start, end) for start, end, _ in kept]
    newlines = [m.start() for m in re.finditer("\n", text)]
    findings: list[Finding] = []
    for index, (start, end, rank) in enumerate(kept):
        line = bisect_left(newlines, start) + 1
        line_start = newlines[line - 2] + 1 if line > 1 else 0
        findings.append(
            Finding(
                kind=kind_of[rank],
                start=start,
                end=end,
                excerpt=_excerpt(text, spans, index),
                line=line,
                column=start - line_start + 1,
            )
        )
    return findings


def describe(finding: Finding) -> str:
    """A message a writer can act on, e.g. 'phone number at line 3, column 14: "call (•••) •••-••11"'."""
    label = LABELS.get(finding.kind, finding.kind)
    return f'{label} at line {finding.line}, column {finding.column}: "{finding.excerpt}"'
