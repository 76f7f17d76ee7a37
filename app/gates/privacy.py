"""Find the patient identifiers a pattern can find, before a post is submitted or a comment is shown.

The ethics code's first rule is "you must maintain patient privacy". Software cannot judge whether a
story identifies a patient, but it can stop the mechanical leaks: a social security or NHS number, a
medical record number, a phone number, a bed or a date of birth pasted into a draft. Names in running
prose are invisible to a pattern, so the operator can list them (``extra_terms``).

Every finding carries a kind (a stable lowercase identifier, see ``KINDS``), a position (line and
column, both 1-based) and a masked excerpt, so the message that reports a leak never repeats it:
error pages, audit entries and notification emails stay clean.

Three sources feed the scan, all over the same folded text (``app.gates.folding``: Unicode digits,
fullwidth forms and zero-width characters cannot hide a number):

- ``app.gates.national_ids``: identifiers with a check digit or a strict structure (SSN, NHS number,
  Medicare MBI, Australian Medicare, Canadian SIN and health cards, Dutch BSN, French NIR, German KVNR),
  validated with ``python-stdnum``;
- ``app.gates.phones``: phone numbers of any region, found by libphonenumber's matcher;
- the patterns below: medical record, account and policy numbers after a cue word, dates of birth,
  dates next to a patient, rooms, beds and wards, e-mail and street addresses, and operator terms.

When findings overlap, identifiers win over phone numbers and everything else: an NHS number written
``943 476 5919`` is reported as an NHS number, not as a phone number.

Patterns are written to stay linear on hostile input (a megabyte of comment is ordinary for a spammer).
Each attempt may only start where a lookbehind allows (the start of a digit run, a cue word, a ``+``);
every quantifier is bounded, and the ambiguous ones are possessive, so each start costs a constant
amount of work. ``tests/test_gates_privacy.py`` runs the scan against such strings.

Numbers are ambiguous, so most kinds need either a strict shape or a check digit (``123-45-6789``,
``943 476 5919``), or a cue word in front (``MRN``, ``DOB``, ``policy number``). That keeps years,
dosages, ZIP codes, page ranges, DOIs and the clinic's short internal extensions (``4-5005``) out.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from app.gates import national_ids, phones
from app.gates.folding import fold, fold_value

KINDS: tuple[str, ...] = (
    "ssn",
    "nhs_number",
    "medicare_mbi",
    "medicare_au",
    "ca_sin",
    "ca_health_card",
    "nl_bsn",
    "fr_nir",
    "de_kvnr",
    "mrn",
    "account",
    "dob",
    "patient_date",
    "room",
    "phone",
    "email",
    "address",
    "term",
)
"""Every kind, in priority order: when two findings overlap, the earlier kind wins a tie.

These are stable identifiers: comments store them as reasons (``privacy:<kind>``) and README lists them.
"""

IDENTIFIER_KINDS = frozenset(KINDS[: KINDS.index("patient_date") + 1])
"""Kinds that win any overlap with the others (an NHS number is never reported as a phone number)."""

LABELS: dict[str, str] = {
    "ssn": "US social security number",
    "nhs_number": "NHS number",
    "medicare_mbi": "US Medicare beneficiary identifier",
    "medicare_au": "Australian Medicare number",
    "ca_sin": "Canadian social insurance number",
    "ca_health_card": "Canadian health card number",
    "nl_bsn": "Dutch citizen service number (BSN)",
    "fr_nir": "French social security number (NIR)",
    "de_kvnr": "German health insurance number (KVNR)",
    "mrn": "medical record number",
    "account": "account, member or policy number",
    "dob": "date of birth",
    "patient_date": "date next to a patient (admission, birth, death)",
    "room": "room, bed or ward",
    "phone": "phone number",
    "email": "email address",
    "address": "street address",
    "term": "listed term",
}

MASK = "•"
CONTEXT_CHARS = 12
MAX_EXCERPT = 120
_INVISIBLE = frozenset({"Cf", "Mn", "Me", "Cc", "Cs", "Co", "Cn"})


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

_FULL_DATE = (
    r"\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})"  # 03/14/1962, 14.03.62
    r"|\d{4}-\d{1,2}-\d{1,2}"  # 1962-03-14
    rf"|{_MONTH}\s{{1,3}}{_DAY},?\s{{1,3}}{_YEAR}"  # March 14, 1962
    rf"|{_DAY}\s{{1,3}}(?:of\s{{1,3}})?{_MONTH},?\s{{1,3}}{_YEAR}"  # 14 March 1962
)
# One person, not "patients": a date next to a group of patients is an event.
_PATIENT_WORDS = r"patient|pt|admitted|admission|readmitted|discharged?|deceased|died"
_PATIENT_WORD = re.compile(rf"(?<!\w)(?:{_PATIENT_WORDS})\b", re.IGNORECASE)
_FULL_DATE_RE = re.compile(rf"(?<![\w./-])(?P<id>{_FULL_DATE})(?!\w|[-./]\d)", re.IGNORECASE)
# A sentence ends at a full stop followed by a space, or at a line break ("Pt." and "14.03.1962" do not).
_SENTENCE_BREAK = re.compile(r"[.!?](?:\s|$)|\n")
_PUBLIC_ROOMS = frozenset(
    "conference meeting lecture seminar class board reading study waiting break common dining training "
    "function press chat escape show seminar classroom music prayer quiet staff lunch".split()
)
_YEAR_RANGE = re.compile(r"(?:19|20)\d\d\s?[-/]\s?(?:(?:19|20)\d\d|\d\d)")
_DOI = re.compile(r"10\.\d{4,9}/")
_DIGIT = re.compile(r"\d")
_NOT_DIGIT = re.compile(r"\D")
_PHONEISH = re.compile(r"\+?[\d\s().-]{7,40}")


# --- validators: what a regex cannot say cheaply -----------------------------------------------------


def _always(_: str) -> bool:
    return True


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


def _room_context(text: str, match: re.Match[str]) -> bool:
    """Beds and wards always count; a room does unless it is a public one ("conference room 2")."""
    cue = match.group("cue").casefold()
    value = match.group("id")
    if cue == "ward" and re.fullmatch(_YEAR, value):
        return False  # "Ward 1999" is a name and a year
    if cue not in ("room", "rm"):
        return True
    before = text[max(0, match.start() - 24) : match.start()].rsplit(None, 1)
    word = before[-1].casefold().strip(".,;:()") if before else ""
    return word not in _PUBLIC_ROOMS


def _patient_dates(text: str) -> Iterator[tuple[int, int]]:
    """Full dates with a patient word in the same sentence, just before or just after them.

    HIPAA counts admission, discharge and death dates as identifiers, as well as birth dates. Patient
    words are rare, so the scan looks for them first and for dates only in a short window around each:
    the cost stays linear however many digits the text holds.
    """
    seen: set[tuple[int, int]] = set()
    for word in _PATIENT_WORD.finditer(text):
        lo, hi = max(0, word.start() - 64), min(len(text), word.end() + 72)
        for match in _FULL_DATE_RE.finditer(text, lo, hi):
            start, end = match.span("id")
            if (start, end) in seen or not _valid_date(match.group("id")):
                continue
            before = start >= word.end() and not _SENTENCE_BREAK.search(text, word.end(), start)
            after = end <= word.start() and not _SENTENCE_BREAK.search(text, end, word.start())
            if (before and start - word.end() <= 48) or (after and word.start() - end <= 32):
                seen.add((start, end))
                yield start, end


@dataclass(frozen=True)
class _Rule:
    kind: str
    pattern: re.Pattern[str]
    valid: Callable[[str], bool] = _always
    numeric: bool = False  # subject to the ISBN / DOI context guard
    context: Callable[[str, re.Match[str]], bool] | None = None


_I = re.IGNORECASE

_RULES: tuple[_Rule, ...] = (
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
    # "Room 412", "bed 3B", "Ward 7", "rm. 12": the number is the finding, the cue stays readable.
    _Rule(
        "room",
        re.compile(
            r"(?<![\w-])(?P<cue>room|rm|bed|ward|cubicle)\.?\s{1,2}(?:(?:no|nr|number)\.?\s{0,2}|#\s?)?"
            r"(?P<id>[a-z]?\d{1,4}[a-z]?)(?![\w-]|[.,:/]\d)",
            _I,
        ),
        context=_room_context,
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
    # Invisible characters (zero-width, direction marks, stacked accents) say nothing to a reader and
    # could stretch or reorder the message, so they go; what is left is capped.
    body = re.sub(
        r"\s", " ", "".join(ch for ch in "".join(pieces) if unicodedata.category(ch) not in _INVISIBLE)
    )
    body = body.strip()
    if len(body) > MAX_EXCERPT:
        body = body[: MAX_EXCERPT - 1] + "…"
    prefix = "…" if lo > 0 and text[lo - 1] != "\n" else ""
    suffix = "…" if hi < len(text) and text[hi] != "\n" else ""
    return f"{prefix}{body}{suffix}"


def _greedy(candidates: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Keep non-overlapping findings: earliest first, then longest, then the higher-priority kind."""
    candidates.sort(key=lambda c: (c[0], c[0] - c[1], c[2]))
    kept: list[tuple[int, int, int]] = []
    for cand in candidates:
        if kept and cand[0] < kept[-1][1]:
            continue
        kept.append(cand)
    return kept


def _resolve(candidates: list[tuple[int, int, int]], first_tier: int) -> list[tuple[int, int, int]]:
    """Non-overlapping findings in text order; identifiers (rank below ``first_tier``) win every overlap."""
    strong = _greedy([c for c in candidates if c[2] < first_tier])
    rest: list[tuple[int, int, int]] = []
    j = 0
    for cand in sorted(c for c in candidates if c[2] >= first_tier):
        # ``strong`` does not overlap itself, so its ends rise with its starts: one pointer suffices.
        while j < len(strong) and strong[j][1] <= cand[0]:
            j += 1
        if j < len(strong) and strong[j][0] < cand[1]:
            continue
        rest.append(cand)
    return sorted(strong + _greedy(rest))


# --- public API ----------------------------------------------------------------------------------------


def scan(
    text: str,
    extra_terms: Iterable[str] = (),
    allow: Iterable[str] = (),
    *,
    region: str = phones.DEFAULT_REGION,
    other_regions: Sequence[str] = phones.DEFAULT_OTHER_REGIONS,
) -> list[Finding]:
    """Every identifier in ``text``, in order of position.

    :param extra_terms: operator-supplied words or phrases (patient names, "room 412") matched as
        whole words, case-insensitively.
    :param allow: values that are public on purpose, such as the clinic's published phone number or
        press address; a finding whose value normalises to one of them is skipped. Phone numbers are
        compared as numbers, so ``(507) 284-2511`` also allows ``+1 507 284 2511``.
    :param region: the home region for phone numbers written without a country code (``US``).
    :param other_regions: regions whose national-format numbers (with their trunk prefix) also count.
    """
    folded = fold(text)
    body = folded.text
    rules = list(_RULES)
    term_rule = _term_rule(fold_value(term) for term in extra_terms)
    if term_rule is not None:
        rules.append(term_rule)
    allow_values = [fold_value(value) for value in allow if value.strip()]
    allowed = {_normalise(value) for value in allow_values}
    allowed_numbers = {
        number
        for value in allow_values
        for where in (region, *other_regions)
        if (number := phones.e164(value, where))
    }
    priority = {kind: rank for rank, kind in enumerate(KINDS)}

    candidates: list[tuple[int, int, int]] = []

    def admit(start: int, end: int, kind: str, numeric: bool, number: str | None = None) -> None:
        if numeric and _reference_context(body, start):
            return
        if allowed and _normalise(body[start:end]) in allowed:
            return
        if number is not None and number in allowed_numbers:
            return
        candidates.append((start, end, priority[kind]))

    for start, end, kind in national_ids.find(body):
        admit(start, end, kind, numeric=True)
    for start, end in _patient_dates(body):
        admit(start, end, "patient_date", numeric=False)
    for phone in phones.find(body, region, other_regions):
        admit(phone.start, phone.end, "phone", numeric=True, number=phone.e164)
    for rule in rules:
        for match in rule.pattern.finditer(body):
            if not rule.valid(match.group("id")):
                continue
            if rule.context is not None and not rule.context(body, match):
                continue
            start, end = match.span("id")
            admit(start, end, rule.kind, rule.numeric)

    kept = _resolve(candidates, first_tier=len(IDENTIFIER_KINDS))
    spans = [folded.span(start, end) for start, end, _ in kept]
    newlines = [m.start() for m in re.finditer("\n", text)]
    findings: list[Finding] = []
    for index, ((start, end), (_, _, rank)) in enumerate(zip(spans, kept, strict=True)):
        line = bisect_left(newlines, start) + 1
        line_start = newlines[line - 2] + 1 if line > 1 else 0
        findings.append(
            Finding(
                kind=KINDS[rank],
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
