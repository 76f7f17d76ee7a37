"""Phone numbers of any region, found by Google's libphonenumber (the ``phonenumbers`` package).

The matcher proposes candidates and knows every region's numbering plan; this module decides which of
its candidates a writer meant as a phone number:

- written in international form (``+44 20 7946 0958``, ``0044 …``): a valid number of the country it
  names, or a possible one grouped as that country writes it;
- written in national form in the home region (``CANDOR_PHONE_REGION``): a valid number grouped as the
  region writes its numbers (``(507) 284-2511``, ``507.284.2511``, ``1-800-555-0199``), or any
  possible number of seven digits or more right after a cue word (``call 284-2511``, ``phone
  5072842511``). A bare run of digits with no cue is just a number;
- written in national form of another region (``CANDOR_PHONE_REGIONS``): it must start with that
  region's trunk prefix (``0``), so years, doses and page ranges cannot be read as a German or Dutch
  number; then a cue word, or a valid number with the area code as its own group (``030 1234 5678``),
  or a possible number of nine digits or more grouped exactly as the region writes it (the fiction
  ranges, such as the UK mobile ``07700 900123``, are possible but not valid).

Dates (``03.04.2020``), times and ISBN/DOI context never count.

Only the parts of the text that hold a cluster of at least seven digits are handed to the matcher,
in windows of bounded size, and the matcher's total work per scan is capped (see ``find``), so a
megabyte of prose or of digits costs seconds at most and stays linear.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from phonenumbers import Leniency, PhoneNumberFormat, PhoneNumberMatcher

DEFAULT_REGION = "US"
DEFAULT_OTHER_REGIONS: tuple[str, ...] = ("GB", "IE", "AU", "NZ", "DE", "FR", "NL")

# A cluster: digits joined by the punctuation phone numbers are written with. Possessive, so each
# start is tried once and the whole pass stays linear.
_CLUSTER = re.compile(r"[+(]{0,2}+\d[\d \t().\-/]*+")
_MIN_DIGITS = 7
_CONTEXT = 24  # characters of context around a cluster handed to the matcher (cue words, "tel:")
_WINDOW = 2048  # longest window handed to the matcher at once
_OVERLAP = 64  # windows overlap by more than any phone number is long
_MAX_DIGITS = 24  # more digits in one cluster than a phone number with country code and extension
_LONG_BUDGET = 4_096  # characters of longer clusters handed to the matcher per scan, all regions together
_HOME_BUDGET = 262_144  # characters of windows the home region's matcher sees per scan (a post has 200,000)
_OTHER_BUDGET = 32_768  # characters of windows each other region's matcher sees per scan
_SEPARATORS = str.maketrans("", "", " \t().-/+")

_DATE_OR_TIME = re.compile(
    r"\(?\d{1,4}[./-]\d{1,2}[./-]\d{1,4}\)?|\d{1,2}:\d{2}(?::\d{2})?(?:\s?[-–]\s?\d{1,2}:\d{2})?"
)
_CUE = re.compile(
    r"(?<!\w)(?:phone|telephone|tel|cell|cellphone|mobile|mob|fax|call|calls|text|sms|whatsapp|pager|ph|ring"
    r"|contact|reach|handy|telefon|telefoon|mobil|mobiel|portable|t[ée]l[ée]phone|t[ée]l|m[óo]vil)\b[^\w\n]{0,4}(?:(?:number|num|nr|no|is|was|me|us|him|her|them|at|on)\b[^\w\n]{0,4}){0,3}+$",
    re.IGNORECASE,
)
_GROUPS = re.compile(r"\d+")
_INTERNATIONAL_SOURCES = frozenset(
    {
        phonenumbers.CountryCodeSource.FROM_NUMBER_WITH_PLUS_SIGN,
        phonenumbers.CountryCodeSource.FROM_NUMBER_WITH_IDD,
    }
)


@dataclass(frozen=True)
class PhoneMatch:
    start: int
    end: int
    e164: str


def supported_region(code: str) -> bool:
    return code.upper() in phonenumbers.SUPPORTED_REGIONS


@lru_cache(maxsize=64)
def _trunk_prefix(region: str) -> str | None:
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    return metadata.national_prefix if metadata is not None else None


def _grouping(value: str) -> list[int]:
    return [len(g) for g in _GROUPS.findall(value)]


def _written_as_formatted(raw: str, number: phonenumbers.PhoneNumber, fmt: int) -> bool:
    """True when ``raw`` groups its digits the way the region formats this number (two groups or more)."""
    groups = _grouping(raw)
    return len(groups) >= 2 and groups == _grouping(phonenumbers.format_number(number, fmt))


@dataclass(frozen=True)
class _Cluster:
    start: int
    end: int
    digits: int
    lead: str  # the cluster without a leading "+" or "(": where a trunk prefix would be


def _clusters(text: str) -> list[_Cluster]:
    """Every run of digits and phone punctuation with at least seven digits, found once per scan."""
    out: list[_Cluster] = []
    for match in _CLUSTER.finditer(text):
        value = match.group()
        digits = len(value.translate(_SEPARATORS))
        if digits >= _MIN_DIGITS:
            out.append(_Cluster(match.start(), match.end(), digits, value.lstrip("+(")[:4]))
    return out


def _uncovered(clusters: list[_Cluster], spans: list[tuple[int, int]]) -> list[_Cluster]:
    """The clusters no span overlaps (both lists sorted by start; spans may overlap each other)."""
    out: list[_Cluster] = []
    j = 0
    reach = -1  # the furthest end of the spans starting before the current cluster's end
    for cluster in clusters:
        while j < len(spans) and spans[j][0] < cluster.end:
            reach = max(reach, spans[j][1]) if spans[j][1] > cluster.start else reach
            j += 1
        if reach > cluster.start:
            continue
        out.append(cluster)
    return out


def _windows(
    size: int, clusters: list[_Cluster], trunk: str | None, long_budget: list[int]
) -> Iterator[tuple[int, int]]:
    """Bounded, merged windows around clusters (of a text ``size`` long).

    With a ``trunk`` prefix, only clusters that start with it count. Clusters with more than
    ``_MAX_DIGITS`` digits (tables, serials, digit soup) share a budget of ``_LONG_BUDGET`` characters
    per scan (``long_budget``, shared by every region's pass): a phone number hidden inside such a run
    past that budget is not looked for.
    """
    lo = hi = -1
    for cluster in clusters:
        if trunk is not None and not cluster.lead.startswith(trunk):
            continue
        start, end = max(0, cluster.start - _CONTEXT), min(size, cluster.end + _CONTEXT)
        if cluster.digits > _MAX_DIGITS:
            if long_budget[0] <= 0:
                continue
            end = min(end, start + long_budget[0])
            long_budget[0] -= end - start
        if start <= hi:
            hi = max(hi, end)
            continue
        if hi > lo:
            yield from _split(lo, hi)
        lo, hi = start, end
    if hi > lo:
        yield from _split(lo, hi)


def _split(lo: int, hi: int) -> Iterator[tuple[int, int]]:
    """Windows of at most ``_WINDOW`` characters covering ``[lo, hi)``, overlapping by ``2 * _OVERLAP``."""
    start = lo
    while True:
        end = min(hi, start + _WINDOW)
        yield start, end
        if end >= hi:
            return
        start = end - 2 * _OVERLAP


@lru_cache(maxsize=1024)
def _accept(raw: str, region: str, home: str, cued: bool) -> phonenumbers.PhoneNumber | None:
    """The number ``raw`` stands for, if it was meant as a phone number (see the module docstring)."""
    if _DATE_OR_TIME.fullmatch(raw.strip()) or len(raw.translate(_SEPARATORS)) < _MIN_DIGITS:
        return None
    try:
        number = phonenumbers.parse(raw, region, keep_raw_input=True)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    valid = phonenumbers.is_valid_number(number)
    if number.country_code_source in _INTERNATIONAL_SOURCES:
        digits = sum(ch.isdigit() for ch in raw)
        return (
            number
            if digits >= 8 and (valid or _written_as_formatted(raw, number, PhoneNumberFormat.INTERNATIONAL))
            else None
        )
    trunk = _trunk_prefix(region)
    with_trunk = bool(trunk) and raw.lstrip("(").startswith(trunk or "")
    if region != home and not with_trunk:
        return None
    if cued:
        return number
    # Without a cue, the digits must be grouped as the region writes its numbers ("(507) 284-2511",
    # "07700 900123", "1-800-555-0199"), and the number valid, or possible and dialled with the trunk
    # prefix (the fiction ranges, such as 07700 900xxx, are possible but not valid).
    # Short invalid numbers are too easily a coincidence ("046 454 287" is possible in Ireland).
    if not (
        valid
        or (with_trunk and region != home and len(phonenumbers.national_significant_number(number)) >= 9)
    ):
        return None
    groups = _grouping(raw)
    if with_trunk and len(groups) > 1 and groups[0] == len(trunk or ""):
        groups = groups[1:]  # "1-800-555-0199": the trunk prefix written as a group of its own
    national = _grouping(phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL))
    if len(groups) < 2:
        return None
    if groups == national or (region != home and valid and _loosely_grouped(groups, national)):
        return number
    return None


def _loosely_grouped(groups: list[int], national: list[int]) -> bool:
    """Writers group the subscriber part of other regions' numbers in several ways ("030 1234 5678" for
    "030 12345678"); the area code must stay a group of its own, each group two digits or more."""
    return 2 <= len(groups) <= 5 and min(groups) >= 2 and bool(national) and groups[0] == national[0]


def find(
    text: str, home: str = DEFAULT_REGION, others: Sequence[str] = DEFAULT_OTHER_REGIONS
) -> list[PhoneMatch]:
    """Every phone number in ``text`` (already folded), in no particular order.

    The home region's matcher sees every window (it also finds numbers in international form), up to
    ``_HOME_BUDGET`` characters, more than a post may hold; each other region's matcher sees only windows
    around clusters that start with a trunk prefix, at most ``_OTHER_BUDGET`` characters of them. The
    budgets bound the work on hostile text: libphonenumber parses every candidate, and a megabyte of
    phone-shaped text would otherwise take a minute. Overlapping matches from different regions are all
    returned; the caller keeps the longest.
    """
    home = home.upper()
    found: dict[tuple[int, int], PhoneMatch] = {}
    long_budget = [_LONG_BUDGET]
    clusters = _clusters(text)
    passes = [(home, _HOME_BUDGET)] + [(r.upper(), _OTHER_BUDGET) for r in others if r.upper() != home]
    for region, budget in passes:
        trunk = None if region == home else _trunk_prefix(region)
        if region != home and not trunk:
            continue  # without a trunk prefix, a national number cannot be told from any other number
        if region != home:
            # A cluster that already holds a number (in the home region or an earlier one) is done.
            clusters = _uncovered(clusters, sorted(found))
        for lo, hi in _windows(len(text), clusters, trunk, long_budget):
            if budget <= 0:
                break
            budget -= hi - lo
            window = text[lo:hi]
            for match in PhoneNumberMatcher(window, region, leniency=Leniency.POSSIBLE):
                start, end = lo + match.start, lo + match.end
                # A match touching a cut edge is seen whole by the neighbouring window.
                if (match.start == 0 and lo > 0) or (match.end == len(window) and hi < len(text)):
                    continue
                if (start, end) in found:
                    continue
                cued = bool(_CUE.search(text, max(0, start - 40), start))
                number = _accept(match.raw_string, region, home, cued)
                if number is None:
                    continue
                e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
                found[(start, end)] = PhoneMatch(start, end, e164)
    return list(found.values())


def e164(value: str, home: str = DEFAULT_REGION) -> str | None:
    """The E.164 form of an allow-list entry, if it reads as a phone number in the home region."""
    try:
        number = phonenumbers.parse(value, home.upper())
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)
