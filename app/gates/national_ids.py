"""National health, insurance and social security identifiers, checked by their check digits.

A number only counts when its structure and check digit hold (``python-stdnum`` where it has the
validator, a few lines here where it does not), and, for shapes too plain to stand alone (nine bare
digits), when a cue word names it. Shapes with a distinctive grouping stand alone:

========================= ==================================================== =========================
kind                      without a cue                                        with a cue only
========================= ==================================================== =========================
``ssn``                   ``123-45-6789``, ``123 45 6789`` (SSA structure)     ``123456789``
``nhs_number``            ``943 476 5919`` (mod 11)                            ``9434765919``, dashes
``medicare_mbi``          ``1EG4-TE5-MK73`` (CMS structure)                    lower case
``medicare_au``           ``2123 45670 1`` (weighted check digit)              ``2123456701``
``ca_sin``                —                                                    ``046 454 286`` (Luhn)
``ca_health_card``        ``TREM 0412 3119`` (Québec RAMQ structure)           OHIP (Luhn), BC PHN (mod 11)
``nl_bsn``                ``1112.22.333`` (11-proof)                           ``111222333``
``fr_nir``                ``1 84 12 76 451 089 46`` (mod 97)                   —
``de_kvnr``               ``A123456780`` (KVNR check digit)                    —
========================= ==================================================== =========================

Patterns are bounded and start only at a word edge, so a pass is linear in the text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from stdnum import luhn
from stdnum.ca import bc_phn, sin
from stdnum.exceptions import ValidationError
from stdnum.fr import nir
from stdnum.gb import nhs
from stdnum.nl import bsn
from stdnum.us import ssn

_I = re.IGNORECASE
_NOT_DIGIT = re.compile(r"\D")
# After a cue: a little punctuation and a few filler words ("NHS no.:", "BSN is", "SIN number").
_TAIL = r"[^\w\n]{0,4}(?:(?:number|num|nr|no|id|is|was|nummer|numéro|de|card)\b[^\w\n]{0,4}){0,3}+$"
# A number must not run on into more digits or words.
_END = r"(?![\w]|[-./]\d)"
_START = r"(?<![\w./-])"
# Spaced groups must not sit inside a longer run of spaced numbers (a table row is not an SSN).
_SPACED_NEIGHBOUR = re.compile(r"\d ")
_SPACED_AFTER = frozenset(f"{d} " for d in "0123456789")  # " 5" after the number, reversed


def _digits(value: str) -> str:
    return _NOT_DIGIT.sub("", value)


def _stdnum(module: object) -> Callable[[str], bool]:
    def valid(value: str) -> bool:
        try:
            module.validate(value)  # type: ignore[attr-defined]
        except ValidationError:
            return False
        return True

    return valid


def _valid_ssn(value: str) -> bool:
    return _stdnum(ssn)(_digits(value))


def _valid_mbi(value: str) -> bool:
    return True  # the pattern is the CMS structure; an MBI has no check digit


def _valid_medicare_au(value: str) -> bool:
    """Services Australia: first digit 2-6, digit 9 = weighted sum of the first eight (1,3,7,9…) mod 10."""
    digits = _digits(value)
    if len(digits) not in (10, 11) or digits[0] not in "23456" or digits[9] == "0":
        return False
    total = sum(int(d) * w for d, w in zip(digits[:8], (1, 3, 7, 9, 1, 3, 7, 9), strict=True))
    return total % 10 == int(digits[8])


def _valid_ca_health(value: str) -> bool:
    """Ontario health number (ten digits, Luhn) or British Columbia PHN (ten digits from 9, mod 11)."""
    digits = _digits(value)
    if len(digits) != 10:
        return False
    return luhn.is_valid(digits) or _stdnum(bc_phn)(digits)


def _valid_ramq(value: str) -> bool:
    """Québec RAMQ: four letters, birth year, month (+50 for women), day, two digits."""
    digits = _digits(value)
    month, day = int(digits[2:4]), int(digits[4:6])
    return (1 <= month <= 12 or 51 <= month <= 62) and 1 <= day <= 31


def _valid_kvnr(value: str) -> bool:
    """German Krankenversichertennummer: the letter as 01-26, then weights 1,2,… with cross sums, mod 10."""
    number = f"{ord(value[0].upper()) - 64:02d}{value[1:9]}"
    total = 0
    for index, ch in enumerate(number):
        product = int(ch) * (2 if index % 2 else 1)
        total += product // 10 + product % 10
    return total % 10 == int(value[9])


def _valid_nir(value: str) -> bool:
    return _stdnum(nir)(value.replace(" ", "").upper())


@dataclass(frozen=True)
class IdRule:
    kind: str
    pattern: re.Pattern[str]
    valid: Callable[[str], bool]
    cue: re.Pattern[str] | None = None  # words that name this identifier, searched just before it
    needs_cue: Callable[[re.Match[str]], bool] = lambda _: False


def _cue(words: str) -> re.Pattern[str]:
    return re.compile(rf"(?<!\w)(?:{words}){_TAIL}", _I)


_MBI_LETTER = "[AC-HJKMNP-RT-Y]"
_MBI_ALNUM = "[AC-HJKMNP-RT-Y0-9]"

RULES: tuple[IdRule, ...] = (
    IdRule(
        "ssn",
        re.compile(_START + r"(?P<id>\d{3}(?P<s>[- ]?)\d{2}(?P=s)\d{4})" + _END),
        _valid_ssn,
        _cue(r"ssn|ss#?|social\s{1,3}security|soc\.?\s?sec\.?"),
        needs_cue=lambda m: m.group("s") == "",
    ),
    IdRule(
        "nhs_number",
        re.compile(_START + r"(?P<id>\d{3}(?P<s>[ -]?)\d{3}(?P=s)\d{4})" + _END),
        lambda v: _stdnum(nhs)(_digits(v)),
        _cue(r"nhs|national\s{1,3}health\s{1,3}service|chi"),
        needs_cue=lambda m: m.group("s") != " ",
    ),
    IdRule(
        "medicare_mbi",
        re.compile(
            rf"(?<![\w-])(?P<id>[1-9]{_MBI_LETTER}{_MBI_ALNUM}\d-?{_MBI_LETTER}{_MBI_ALNUM}\d-?{_MBI_LETTER}{{2}}\d{{2}})"
            r"(?![\w-])",
            _I,
        ),
        _valid_mbi,
        _cue(r"mbi|medicare(?:\s{1,3}beneficiary(?:\s{1,3}identifier)?)?"),
        needs_cue=lambda m: not m.group("id").isupper(),
    ),
    IdRule(
        "medicare_au",
        re.compile(_START + r"(?P<id>[2-6]\d{3}(?P<s> ?)\d{5}(?P=s)\d(?:[ /-]?[1-9])?)" + _END),
        _valid_medicare_au,
        _cue(r"medicare"),
        needs_cue=lambda m: m.group("s") != " ",
    ),
    IdRule(
        "ca_sin",
        re.compile(_START + r"(?P<id>\d{3}(?P<s>[ -]?)\d{3}(?P=s)\d{3})" + _END),
        lambda v: _stdnum(sin)(_digits(v)),
        _cue(r"sin|social\s{1,3}insurance|nas|assurance\s{1,3}sociale"),
        needs_cue=lambda _: True,
    ),
    IdRule(
        "ca_health_card",
        re.compile(_START + r"(?P<id>\d{4}(?P<s>[ -]?)\d{3}(?P=s)\d{3})(?:[ -]?[A-Z]{2})?" + _END),
        _valid_ca_health,
        _cue(r"ohip|phn|health\s{1,3}(?:card|number|insurance)|personal\s{1,3}health|carte\s{1,3}santé"),
        needs_cue=lambda _: True,
    ),
    IdRule(
        "ca_health_card",
        re.compile(r"(?<![\w-])(?P<id>[A-Z]{4} ?\d{4} ?\d{4})(?![\w-])"),
        _valid_ramq,
    ),
    IdRule(
        "nl_bsn",
        re.compile(_START + r"(?P<id>\d{4}\.\d{2}\.\d{3}|\d{3}(?P<s>[ -]?)\d{3}(?P=s)\d{3}|\d{8,9})" + _END),
        lambda v: _stdnum(bsn)(_digits(v)),
        _cue(r"bsn|burger\s?service\s?nummer|sofi(?:-?nummer)?|citizen\s{1,3}service"),
        needs_cue=lambda m: "." not in m.group("id"),
    ),
    IdRule(
        "fr_nir",
        re.compile(
            _START
            + r"(?P<id>[1-478] ?\d{2} ?(?:0[1-9]|1[0-2]|[2-9]\d) ?(?:\d{2}|2[ABab]) ?\d{3} ?\d{3} ?\d{2})"
            + _END
        ),
        _valid_nir,
    ),
    IdRule(
        "de_kvnr",
        re.compile(r"(?<![\w-])(?P<id>[A-Z]\d{9})(?![\w-])"),
        _valid_kvnr,
    ),
)


def find(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, kind)`` of every identifier in ``text`` (already folded); overlaps are kept."""
    out: list[tuple[int, int, str]] = []
    for rule in RULES:
        for match in rule.pattern.finditer(text):
            value = match.group("id")
            start, end = match.span("id")
            if " " in value and (
                _SPACED_NEIGHBOUR.fullmatch(text, start - 2, start)
                or text[end : end + 2][::-1] in _SPACED_AFTER
            ):
                continue
            if not rule.valid(value):
                continue
            if rule.needs_cue(match):
                if rule.cue is None or not rule.cue.search(text, max(0, start - 48), start):
                    continue
            out.append((start, end, rule.kind))
    return out
