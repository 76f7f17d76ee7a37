"""The privacy gate: what it must flag, what it must leave alone, and that it stays fast on hostile text."""

from __future__ import annotations

import random

import pytest

from app.gates.privacy import KINDS, LABELS, MASK, Finding, describe, mask, scan


def flagged(text: str, **kwargs: object) -> list[tuple[str, str]]:
    return [(f.kind, text[f.start : f.end]) for f in scan(text, **kwargs)]  # type: ignore[arg-type]


# --- every kind is found -------------------------------------------------------------------------------

FOUND = [
    ("ssn", "Her SSN is 123-45-6789.", "123-45-6789"),
    ("ssn", "numbers 123 45 6789 on the form", "123 45 6789"),
    ("ssn", "ssn: 123456789", "123456789"),
    ("ssn", "Social Security number 123456789", "123456789"),
    ("ssn", "SS# 123-45-6789", "123-45-6789"),
    ("mrn", "MRN: 00123456", "00123456"),
    ("mrn", "medical record number is A1234567", "A1234567"),
    ("mrn", "Patient ID JD-445-221 was admitted", "JD-445-221"),
    ("mrn", "chart # 7654321", "7654321"),
    ("account", "acct 1234 5678 9012", "1234 5678 9012"),
    ("account", "Policy no. 99887766", "99887766"),
    ("account", "Member ID: XYZ123456789", "XYZ123456789"),
    ("account", "account number: 0012-3456-78", "0012-3456-78"),
    ("phone", "Call (507) 284-2511 today", "(507) 284-2511"),
    ("phone", "Call 507-284-2511 today", "507-284-2511"),
    ("phone", "Call me at 507.284.2511.", "507.284.2511"),
    ("phone", "Tel: +1 (507) 284-2511", "+1 (507) 284-2511"),
    ("phone", "1-800-555-0199", "1-800-555-0199"),
    ("phone", "London office +44 20 7946 0958", "+44 20 7946 0958"),
    ("phone", "London office +44 (0)20 7946 0958", "+44 (0)20 7946 0958"),
    ("phone", "tel:+15072842511", "+15072842511"),
    ("phone", "phone 5072842511", "5072842511"),
    ("phone", "call me at 284-2511", "284-2511"),
    ("email", "Write to jane.doe@example.com today", "jane.doe@example.com"),
    ("email", "mailto:Jane@X.org", "Jane@X.org"),
    ("dob", "DOB 03/14/1962", "03/14/1962"),
    ("dob", "DOB: 3/14/62", "3/14/62"),
    ("dob", "born on March 14, 1962", "March 14, 1962"),
    ("dob", "date of birth: 1962-03-14", "1962-03-14"),
    ("dob", "Date of birth 14 March 1962", "14 March 1962"),
    ("dob", "born in March 1962", "March 1962"),
    ("dob", "born on March 3", "March 3"),
    ("address", "She lives at 12 Oak street.", "12 Oak street."),
    ("address", "Mayo Clinic, 200 First St. SW, Rochester", "200 First St. SW"),
    ("address", "at 1600 Pennsylvania Avenue NW, Suite 200, DC", "1600 Pennsylvania Avenue NW, Suite 200"),
    ("address", "at 42 West 42nd Street Apt 4B", "42 West 42nd Street Apt 4B"),
    ("address", "at 7 Elm Rd #12 in town", "7 Elm Rd #12"),
]


@pytest.mark.parametrize(("kind", "text", "value"), FOUND, ids=[f"{k}:{t}" for k, t, _ in FOUND])
def test_each_kind_is_flagged_with_the_identifier_as_its_span(kind: str, text: str, value: str) -> None:
    assert flagged(text) == [(kind, value)]


def test_every_declared_kind_has_a_label_and_is_a_stable_lowercase_identifier() -> None:
    # tests/test_privacy_table.py has an identifier of every kind.
    assert set(LABELS) == set(KINDS)
    assert {kind for kind, _, _ in FOUND} <= set(KINDS)
    assert all(kind.isidentifier() and kind == kind.lower() for kind in KINDS)


# --- near misses are left alone ------------------------------------------------------------------------

CLEAN = [
    "The study ran from 2019 to 2021, in 1999-2005 and on 2019-12-31.",
    "Take 500 mg twice a day; 1,000 mg at most; 2.5 ml per dose.",
    "Smith J. Lancet. 2019;12(3):45-67. Vol 12, pp. 345-678.",
    "Rochester, MN 55905 and ZIP 55905-0001",
    "Ask Public Affairs (4-5005 in Rochester, 2-4222 in Arizona, 3-2299 in Florida).",
    "doi:10.1056/NEJMoa2034577 and https://doi.org/10.1001/jama.2019.12345",
    "doi 10.1000/507-284-2511 is a reference, not a phone",
    "ISBN 978-0-306-40615-7, ISBN 0-306-40615-2, ISBN 0306406152, ISBN 1-234-567-8901",
    "PMID: 31234567; NCT01234567; 95% CI 1.2-3.4; 10:30-11:45",
    "In 2019 we saw 1,234 patients in 12 clinics.",
    "A bare 5072842511 or 123456789 without a cue is just a number.",
    "Invalid SSNs 000-12-3456, 666-12-3456, 912-34-5678, 123-00-4567, 123-45-0000.",
    "Spaced runs like 1 123 45 6789 or 123 45 6789 12 are tables, not SSNs.",
    "Patient #3 was fine; patient note 12345; the medical records of 2019 show",
    "medical record 2019 audit; account 2019; policy no. 2019-2020; member since 2019; group number 4",
    "born in 1980; DOB 13/13/2020; on 03/14/2020 we met",
    "score +1 2 3; temperatures +12.5 +13.2",
    "I met 3 Residents Dr. Smith and Dr. Jones; Top 5 Ways to rest",
    "",
]


@pytest.mark.parametrize("text", CLEAN)
def test_near_misses_are_not_flagged(text: str) -> None:
    assert scan(text) == []


def test_the_ethics_code_itself_is_clean() -> None:
    text = (
        "8. Ask the Department of Public Affairs (4-5005 in Rochester, 2-4222 in Arizona, 3-2299 in "
        "Florida) if you have any questions about what is appropriate to include in your blog."
    )
    assert scan(text) == []


# --- positions, masking, messages ----------------------------------------------------------------------


def test_line_and_column_are_one_based_and_count_from_the_line_start() -> None:
    text = "First line.\nSecond line.\nPlease call (507) 284-2511 now."
    [finding] = scan(text)
    assert (finding.kind, finding.line, finding.column) == ("phone", 3, 13)
    assert text[finding.start : finding.end] == "(507) 284-2511"


def test_finding_is_frozen() -> None:
    [finding] = scan("MRN 00123456")
    with pytest.raises(AttributeError):
        finding.kind = "term"  # type: ignore[misc]


def test_findings_come_in_text_order() -> None:
    text = "jane@example.com, then 507-284-2511, then SSN 123-45-6789"
    assert [f.kind for f in scan(text)] == ["email", "phone", "ssn"]
    assert [f.start for f in scan(text)] == sorted(f.start for f in scan(text))


def test_excerpt_masks_all_but_the_last_two_characters_and_keeps_punctuation() -> None:
    [finding] = scan("Could you please call (507) 284-2511 now.")
    assert finding.excerpt == f"…please call ({MASK * 3}) {MASK * 3}-{MASK * 2}11 now."
    assert "507" not in finding.excerpt and "284" not in finding.excerpt


def test_excerpt_is_short_and_stays_on_the_identifiers_line() -> None:
    text = "x" * 200 + "\nbefore MRN 00123456 after " + "y" * 200 + "\nnext line"
    [finding] = scan(text)
    assert finding.excerpt == f"before MRN {MASK * 6}56 after yyyyy…"
    assert "\n" not in finding.excerpt and "x" not in finding.excerpt


def test_excerpt_masks_neighbouring_identifiers_too() -> None:
    text = "SSN 123-45-6789 507-284-2511"
    first, second = scan(text)
    for finding in (first, second):
        assert "6789" not in finding.excerpt and "507" not in finding.excerpt


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("123-45-6789", f"{MASK * 3}-{MASK * 2}-{MASK * 2}89"),
        ("jane@x.org", f"{MASK * 4}@{MASK}.{MASK}rg"),
        ("Jane Doe", f"{MASK * 4} {MASK}oe"),
        ("Bo", MASK * 2),  # short values are hidden entirely, or a name would be shown whole
        ("Anna", MASK * 4),
        ("Annie", f"{MASK * 4}e"),
    ],
)
def test_mask(value: str, masked: str) -> None:
    assert mask(value) == masked


def test_describe_names_the_kind_and_position_without_the_identifier() -> None:
    text = "one\ntwo\nher email is jane.doe@example.com"
    [finding] = scan(text)
    message = describe(finding)
    assert message.startswith("email address at line 3, column 14: ")
    assert "jane.doe" not in message and "example" not in message


def test_describe_works_on_a_finding_built_by_hand() -> None:
    finding = Finding(kind="phone", start=0, end=1, excerpt="x", line=3, column=14)
    assert describe(finding) == 'phone number at line 3, column 14: "x"'


# --- operator terms and the allow list ----------------------------------------------------------------


def test_extra_terms_match_whole_words_case_insensitively() -> None:
    text = "Jane DOE was in Room  412; Janet Doerr was not; room 4120 is elsewhere."
    assert flagged(text, extra_terms=["jane doe", "room 412", "  "]) == [
        ("term", "Jane DOE"),
        ("term", "Room  412"),
        ("room", "4120"),  # not the term; a room number all the same
    ]


def test_extra_terms_are_literal_not_regex() -> None:
    assert flagged("see a.b and axb", extra_terms=["a.b", "(unbalanced"]) == [("term", "a.b")]


def test_longer_terms_win_over_their_prefixes() -> None:
    assert flagged("in room 412 today", extra_terms=["room", "room 412"]) == [("term", "room 412")]


def test_allow_list_skips_the_clinics_own_published_numbers_in_any_format() -> None:
    text = "Call 507-284-2511 or +1 507 284 2511 or (507) 284-2512; mail Press@Clinic.org or jane@clinic.org"
    result = flagged(text, allow=["(507) 284-2511", "press@clinic.org", " "])
    assert result == [("phone", "(507) 284-2512"), ("email", "jane@clinic.org")]


def test_allow_list_matches_exact_values_only() -> None:
    assert flagged("MRN 00123456", allow=["0012345"]) == [("mrn", "00123456")]


def test_allow_list_covers_the_clinics_address() -> None:
    assert flagged("Visit 200 First St. SW today", allow=["200 first st.  SW"]) == []


# --- hostile input --------------------------------------------------------------------------------------

N = 100_000
_rng = random.Random(1729)
HOSTILE = {
    "digits": "1" * N,
    "digit-dash": "1-" * (N // 2),
    "digit-space": "1 " * (N // 2),
    "digit-dot": "1." * (N // 2),
    "spaced-ssn-prefix": "123 45 " * (N // 7),
    "local-part": "a" * N + "@",
    "dotted-local-part": "a." * (N // 2) + "@",
    "at-signs": "x@" * (N // 2),
    "long-domain": "a@" + "a." * (N // 2),
    "hyphen-domain": "a@" + "a-" * (N // 2),
    "mrn-cues": "MRN " * (N // 4),
    "mrn-cue-and-dash": "MRN: 1-" * (N // 7),
    "policy-cues": "policy no " * (N // 10),
    "account-cues": "account 1-" * (N // 10),
    "dob-cues": "DOB 1/" * (N // 6),
    "born-on": "born on March " * (N // 14),
    "phone-cues": "phone " * (N // 6),
    "plus-one": "+1 " * (N // 3),
    "plus-groups": "+1-1" * (N // 4),
    "parens": "(" * N,
    "area-codes": "(507) " * (N // 6),
    "street-words": "12 " + "Main " * (N // 5),
    "numbered-words": "12 Main " * (N // 8),
    "whitespace": " \t" * (N // 2),
    "capitals": "A" * N,
    "random-symbols": "".join(_rng.choice("0123456789 -.()+@aA#:/\nMRN") for _ in range(N)),
    "random-digits": "".join(_rng.choice("0123456789 -") for _ in range(N)),
}


@pytest.mark.timeout(10)
@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_input_is_scanned_and_a_trailing_identifier_still_found(name: str) -> None:
    text = HOSTILE[name] + "\nreach me at jane.doe@example.org"
    findings = scan(text, extra_terms=["room 412", "Jane Doe"])
    last = findings[-1]
    assert last.kind == "email"
    assert text[last.start : last.end] == "jane.doe@example.org"
    assert last.line == text.count("\n") + 1 and last.column == 13


@pytest.mark.timeout(10)
def test_hostile_input_against_extra_terms() -> None:
    text = "room " * (N // 5) + "room 412"
    assert flagged(text, extra_terms=["room 412", "room 41", "Jane Doe"]) == [("term", "room 412")]


@pytest.mark.timeout(10)
def test_many_real_identifiers_are_all_reported() -> None:
    text = "SSN 123-45-6789; " * 5000
    findings = scan(text)
    assert len(findings) == 5000 and {f.kind for f in findings} == {"ssn"}
    assert all("6789" not in f.excerpt for f in findings)
