"""The privacy scan against a table of real-shaped identifiers from several countries and their look-alikes.

Every identifier below is structurally valid (check digits computed with the published algorithms; the
phone numbers are in ranges reserved for fiction or examples where a country has them, e.g. Ofcom's
07700 900xxx and 020 7946 0xxx). Every look-alike is something a staff blog writes every day, or a
number that fails its check digit. The hostile tests feed a megabyte of the shapes that make matchers
slow, and Unicode digits, fullwidth forms and zero-width characters that could hide an identifier.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import config
from app.editorial.gates import GateSettings
from app.gates import phones
from app.gates.privacy import KINDS, MASK, scan
from app.spam.pipeline import PipelineSettings

# The clinic's own published numbers, as an operator would list them in CANDOR_PRIVACY_ALLOW.
CLINIC_ALLOW = ["(507) 284-2511", "507-538-3270", "+44 20 7946 0000"]

IDENTIFIERS = [
    # US
    ("ssn", "Her SSN is 078-05-1121 on the form.", "078-05-1121"),
    ("ssn", "SSN 219 09 9998 was on the chart", "219 09 9998"),
    ("ssn", "social security no. 536221234", "536221234"),
    ("medicare_mbi", "MBI 1EG4-TE5-MK73 on the claim", "1EG4-TE5-MK73"),
    ("medicare_mbi", "card shows 1EG4TE5MK73", "1EG4TE5MK73"),
    ("medicare_mbi", "medicare id: 9ac7-hn2-df48", "9ac7-hn2-df48"),
    ("phone", "Call (507) 284-2511 today", "(507) 284-2511"),
    ("phone", "her cell is 312.555.0147", "312.555.0147"),
    ("phone", "Dial 1-800-555-0199 for help", "1-800-555-0199"),
    ("phone", "text me at 415 555 0132", "415 555 0132"),
    ("phone", "ph: 2845511", "2845511"),
    # Canada
    ("ca_sin", "SIN: 123 456 782", "123 456 782"),
    ("ca_sin", "social insurance number 130-720-014", "130-720-014"),
    ("ca_health_card", "OHIP 1234-567-897", "1234-567-897"),
    ("ca_health_card", "health card number 9876543217", "9876543217"),
    ("ca_health_card", "PHN 9698 658 215", "9698 658 215"),
    ("ca_health_card", "carte RAMQ TREM 0412 3119 expirée", "TREM 0412 3119"),
    ("phone", "Toronto office +1 416 555 0176", "+1 416 555 0176"),
    # UK
    ("nhs_number", "NHS number 943 476 5919.", "943 476 5919"),
    ("nhs_number", "his number 401 023 2137 is on the letter", "401 023 2137"),
    ("nhs_number", "NHS no: 4857773457", "4857773457"),
    ("nhs_number", "NHS 485-777-3457", "485-777-3457"),
    ("phone", "mobile 07700 900123", "07700 900123"),
    ("phone", "ring 07700 900 456 after six", "07700 900 456"),
    ("phone", "London 020 7946 0958", "020 7946 0958"),
    ("phone", "Leeds +44 113 496 0999", "+44 113 496 0999"),
    ("phone", "from abroad 0044 20 7946 0018", "0044 20 7946 0018"),
    # Ireland, Australia, New Zealand
    ("phone", "Dublin clinic 01 234 5678 closed", "01 234 5678"),
    ("phone", "Irish mobile 085 123 4567", "085 123 4567"),
    ("medicare_au", "Medicare card 2950 12348 1", "2950 12348 1"),
    ("medicare_au", "medicare number 3123456712", "3123456712"),
    ("medicare_au", "card 4091 82736 1 found", "4091 82736 1"),
    ("phone", "Sydney (02) 9876 5432", "(02) 9876 5432"),
    ("phone", "mobile 0412 345 678", "0412 345 678"),
    ("phone", "+61 2 9876 5432 is the ward", "+61 2 9876 5432"),
    ("phone", "Auckland 09 876 5432", "09 876 5432"),
    # Netherlands, France, Germany
    ("nl_bsn", "BSN 123456782", "123456782"),
    ("nl_bsn", "burgerservicenummer: 8765.43.219", "8765.43.219"),
    ("nl_bsn", "zijn nummer 2345.67.892 staat erop", "2345.67.892"),
    ("phone", "Amsterdam 020 123 4567", "020 123 4567"),
    ("phone", "mobiel 06 12345678", "06 12345678"),
    ("fr_nir", "NIR 2 69 02 99 341 732 85", "2 69 02 99 341 732 85"),
    ("fr_nir", "numéro de sécu 189107512345654", "189107512345654"),
    ("phone", "Paris 01 23 45 67 89", "01 23 45 67 89"),
    ("phone", "portable 06 12 34 56 78", "06 12 34 56 78"),
    ("phone", "+33 1 23 45 67 89", "+33 1 23 45 67 89"),
    ("de_kvnr", "KVNR A123456780", "A123456780"),
    ("de_kvnr", "Versichertennummer M482135792", "M482135792"),
    ("phone", "Berlin 030 12345678", "030 12345678"),
    ("phone", "Handy 0151 23456789", "0151 23456789"),
    ("phone", "+49 30 12345678", "+49 30 12345678"),
    # elsewhere, international form
    ("phone", "Tokyo +81 3-1234-5678", "+81 3-1234-5678"),
    ("phone", "Mumbai +91 98765 43210", "+91 98765 43210"),
    ("phone", "São Paulo +55 11 91234-5678", "+55 11 91234-5678"),
    ("phone", "Cape Town +27 21 123 4567", "+27 21 123 4567"),
    ("phone", "Madrid +34 612 345 678", "+34 612 345 678"),
    # records, dates, places
    ("mrn", "MRN: 00123456", "00123456"),
    ("mrn", "medical record number A1234567", "A1234567"),
    ("mrn", "Patient ID JD-445-221 was admitted", "JD-445-221"),
    ("account", "Member ID: XYZ123456789", "XYZ123456789"),
    ("dob", "DOB 03/14/1962", "03/14/1962"),
    ("dob", "born on 14 March 1962", "14 March 1962"),
    ("dob", "date of birth: 1962-03-14", "1962-03-14"),
    ("patient_date", "The patient was admitted on 03/14/2024 with pain.", "03/14/2024"),
    ("patient_date", "Our patient died on 3 May 2024.", "3 May 2024"),
    ("patient_date", "Discharged 2024-05-03, the patient went home", "2024-05-03"),
    ("room", "She is in Room 412 today", "412"),
    ("room", "the man in bed 3B", "3B"),
    ("room", "admitted to Ward 7", "7"),
    ("room", "moved to rm. 12", "12"),
    ("email", "Write to jane.doe@example.com today", "jane.doe@example.com"),
    ("email", "mail J.Smith+notes@Hospital.NHS.uk", "J.Smith+notes@Hospital.NHS.uk"),
    ("address", "She lives at 12 Oak street.", "12 Oak street."),
]
LOOK_ALIKES = [
    "The study ran from 2019 to 2021.",
    "Results were published on 14 March 2024 in the Lancet.",
    "The conference on 03/14/2024 drew 400 people.",
    "In 1999-2005 we grew; in 2019-2020 we paused.",
    "Take 500 mg twice daily with food.",
    "1,000 mg at most, 2.5 ml per dose, 0.5 mg/kg per hour",
    "Paracetamol 500mg 4 times daily for 7 days",
    "Insulin 10 units at 07:30 and 12 units at 19:00",
    "Clinic hours 08:00-17:30, lunch 12:30-13:15",
    "The meeting is at 10:30 on 2024-06-01.",
    "Version 2.10.3 and build 20240614.1 are out",
    "Python 3.11.7, Flask 3.1.3, release 1.20.1",
    "ISBN 978-0-306-40615-7 and ISBN 0-306-40615-2",
    "doi:10.1056/NEJMoa2034577 cites https://doi.org/10.1001/jama.2019.12345",
    "PMID: 31234567; NCT01234567",
    "It costs $1,234,567.89 or EUR 12 345 678",
    "Prices from £1,299 to £12,999",
    "Rochester, MN 55905 and ZIP 55905-0001",
    "Postcode SW1A 1AA and 75008 Paris and 10115 Berlin",
    "Ask Public Affairs (4-5005 in Rochester, 2-4222 in Arizona, 3-2299 in Florida).",
    "Call us at (507) 284-2511 or 507-538-3270.",
    "Call the clinic on +1 507 284 2511.",
    "Our UK line is 020 7946 0000.",
    "Invalid SSNs 000-12-3456, 666-12-3456, 912-34-5678, 123-00-4567, 123-45-0000",
    "A bare 5072842511 or 123456789 is just a number.",
    "NHS number 9434765918 fails its check",
    "Reference 401 023 2138 in the letter",
    "SIN 046 454 287 fails Luhn",
    "BSN 123456781 fails the 11-proof",
    "Order 1234.56.789 shipped",
    "KVNR A123456789 fails the check digit",
    "Medicare 2950 12349 1 has a bad check digit",
    "NIR 2 69 02 99 341 732 86 has a bad key",
    "Ticket AB12345678 and serial X12-345-678",
    "Table: 1 2 3 4 5 6 7 8 9 10",
    "Scores 12 34 56 78 90 12 in a row",
    "Page 123-456 of volume 7",
    "The trial enrolled 12,345 patients in 2023.",
    "In 2019 we saw 1,234 patients in 12 clinics.",
    "Patient #3 was fine; patient note 12345",
    "Patients seen in 2023: 4,512",
    "The gala raised $1,250,000 on 12/05/2025 for patients in need.",
    "The conference room 2 is booked, meeting room 12 too.",
    "Lecture Room 101 and the seminar room 4 upstairs",
    "We met in the waiting room 3 times",
    "Ward 1999 was a novelist.",
    "A 24-bed ward and 3 bedrooms",
    "born in 1980; DOB 13/13/2020",
    "Dr. Smith was born in Rochester.",
    "on 03/14/2020 we met the mayor",
    "Appointment slots: 9-10, 10-11, 11-12",
    "Coordinates 44.0225, -92.4699",
    "Temperature 37.5 C, BP 120/80, HR 72",
    "A1c 6.5%, LDL 130 mg/dL, eGFR 90",
    "Section 4.2.3 and figure 12-3",
    "Version 06.12.34 of the form",
    "the 2024 budget was 03.04 million",
    "score +1 2 3; temperatures +12.5 +13.2",
    "IP 192.168.1.254 and port 8080",
    "Between 2,000 and 3,000 steps, 10 000 steps a day",
    "The year 2023 had 365 days and 8760 hours.",
    "Nothing here but prose about care and kindness.",
    "Phone extension x2511 and room service",
    "Invoice 2023-0045-17 is paid",
    "EAN 4006381333931 on the box",
    "UPC 036000291452",
    "Sample sizes 100 200 300 400 500",
]


def flagged(text: str, **kwargs: object) -> list[tuple[str, str]]:
    return [(f.kind, text[f.start : f.end]) for f in scan(text, **kwargs)]  # type: ignore[arg-type]


def test_the_table_is_large_and_covers_every_number_kind() -> None:
    assert len(IDENTIFIERS) >= 60 and len(LOOK_ALIKES) >= 60
    assert {kind for kind, _, _ in IDENTIFIERS} == set(KINDS) - {"term"}


@pytest.mark.parametrize(("kind", "text", "value"), IDENTIFIERS, ids=[f"{k}:{t}" for k, t, _ in IDENTIFIERS])
def test_identifier_is_found_with_its_kind_and_span(kind: str, text: str, value: str) -> None:
    assert flagged(text) == [(kind, value)]


@pytest.mark.parametrize(("kind", "text", "value"), IDENTIFIERS, ids=[f"{k}:{t}" for k, t, _ in IDENTIFIERS])
def test_identifier_position_and_excerpt(kind: str, text: str, value: str) -> None:
    prefix = "A first line.\n  "
    [finding] = scan(prefix + text)
    assert (finding.line, finding.column) == (2, 3 + text.index(value))
    hidden = "".join(ch for ch in value if ch.isalnum())[:-2]
    # Never the whole identifier, and never more than its last two characters.
    assert MASK in finding.excerpt
    assert value not in finding.excerpt
    if len(hidden) >= 3:
        assert hidden not in "".join(ch for ch in finding.excerpt if ch.isalnum())


@pytest.mark.parametrize("text", LOOK_ALIKES)
def test_look_alike_is_left_alone(text: str) -> None:
    assert flagged(text, allow=CLINIC_ALLOW) == []


def test_allow_list_is_needed_for_the_clinic_numbers() -> None:
    """The look-alikes above pass because of CLINIC_ALLOW, not because phones go unseen."""
    assert [k for k, _ in flagged("Call us at (507) 284-2511 or 507-538-3270.")] == ["phone", "phone"]
    assert [k for k, _ in flagged("Our UK line is 020 7946 0000.")] == ["phone"]


def test_allow_list_matches_numbers_in_any_format_and_region() -> None:
    text = "Ring +1 507 284 2511, 1-507-284-2511, +44 20 7946 0000 or 0044 20 7946 0000"
    assert flagged(text, allow=CLINIC_ALLOW) == []
    assert flagged("or 020 7946 0001", allow=CLINIC_ALLOW) == [("phone", "020 7946 0001")]


# --- which label wins ------------------------------------------------------------------------------------


def test_an_nhs_number_is_an_nhs_number_not_a_phone_number() -> None:
    # 943 476 5919 is also a well-formed US phone number; the check digit says NHS.
    assert flagged("Tel 943 476 5919") == [("nhs_number", "943 476 5919")]
    assert flagged("NHS no. (943) 476 5919") != [] and all(
        k == "nhs_number" for k, _ in flagged("NHS 943-476-5919, 943 476 5919")
    )


def test_identifiers_win_an_overlap_even_when_the_phone_match_starts_earlier() -> None:
    result = flagged("call +1 943 476 5919")
    assert result in ([("phone", "+1 943 476 5919")], [("nhs_number", "943 476 5919")])
    # Whatever the phone matcher proposes, an identifier is never hidden behind a phone finding.
    assert flagged("SSN 123-45-6789 507-284-2512") == [("ssn", "123-45-6789"), ("phone", "507-284-2512")]


def test_other_regions_can_be_switched_off_and_the_home_region_changed() -> None:
    assert flagged("mobile 07700 900123 or 020 7946 0958", other_regions=()) == []
    assert flagged("020 7946 0958", region="GB", other_regions=()) == [("phone", "020 7946 0958")]
    assert flagged("(507) 284-2511", region="GB", other_regions=()) == []
    assert flagged("+1 507 284 2511", region="GB", other_regions=()) == [("phone", "+1 507 284 2511")]


# --- hostile input ----------------------------------------------------------------------------------------

ZWSP, ZWJ, SHY, WJ, BOM = "\u200b", "\u200d", "\u00ad", "\u2060", "\ufeff"


def arabic_indic(text: str) -> str:
    return text.translate({ord(d): chr(0x0660 + int(d)) for d in "0123456789"})


def fullwidth(text: str) -> str:
    return "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in text)


DISGUISED = [
    ("ssn", arabic_indic("SSN 123-45-6789"), arabic_indic("123-45-6789")),
    ("ssn", fullwidth("SSN 123-45-6789"), fullwidth("123-45-6789")),
    ("ssn", f"SSN 12{ZWSP}3-45-67{ZWJ}89", f"12{ZWSP}3-45-67{ZWJ}89"),
    ("nhs_number", f"NHS 943{SHY} 476 59{WJ}19", f"943{SHY} 476 59{WJ}19"),
    ("phone", f"call (5{BOM}07) 284\u20112511", f"(5{BOM}07) 284\u20112511"),
    ("phone", "call " + "\u0967\u0968\u0969-\u096a\u096b\u096c-\u096d\u096e\u096f\u0966", None),
    ("email", fullwidth("jane@example.org"), fullwidth("jane@example.org")),
    ("mrn", f"MRN{chr(0x3000)}{fullwidth('00123456')}", fullwidth("00123456")),
    ("term", f"Jane{ZWSP} Doe was here", f"Jane{ZWSP} Doe"),
]


@pytest.mark.parametrize(("kind", "text", "value"), DISGUISED)
def test_unicode_digits_fullwidth_and_zero_width_characters_do_not_hide_an_identifier(
    kind: str, text: str, value: str | None
) -> None:
    result = flagged(text, extra_terms=["jane doe"])
    assert [k for k, _ in result] == [kind]
    if value is not None:
        assert result[0][1] == value
    [finding] = scan(text, extra_terms=["jane doe"])
    assert finding.line == 1 and finding.column == 1 + text.index(result[0][1])


def test_positions_stay_right_after_dropped_characters_on_earlier_lines() -> None:
    text = f"a{ZWSP}{ZWSP}b\nx{SHY}y {fullwidth('SSN')} 123-45-6789"
    [finding] = scan(text)
    assert text[finding.start : finding.end] == "123-45-6789"
    assert (finding.line, finding.column) == (2, text.split("\n")[1].index("123") + 1)


M = 1_000_000
POST = 200_000  # the longest post body (app/posts/views.py); a comment has at most 5,000 characters
HOSTILE = {
    # A megabyte where the work per character is smallest ...
    "digits": "7" * M,
    "digit-dash": "1-" * (M // 2),
    "zero-width-soup": f"1{ZWSP}" * (M // 2),
    "spaced-groups": "123 45 " * (M // 7),
    "room-cues": "room bed ward " * (M // 14),
    # ... and the longest post where it is largest: every cluster goes to libphonenumber, or every
    # match is a finding with its own excerpt.
    "digit-space": "1 " * (POST // 2),
    "zeros-space": "0 " * (POST // 2),
    "area-codes": "(507) " * (POST // 6),
    "phones": "(507) 284-2511, " * (POST // 64),
    "uk-phones": "07700 900123, " * (POST // 56),
    "short-clusters": "1 1 1 1 1 1 1 x " * (POST // 16),
    "nhs-shaped": "943 476 5918 " * (POST // 13),
    "arabic-digits": arabic_indic("1234567890 ") * (POST // 11),
    "fullwidth": fullwidth("SSN 123-45-678") * (POST // 14),
    "patient-words": "patient admitted 1/1/ " * (POST // 22),
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_text_is_scanned_and_a_trailing_identifier_still_found(name: str) -> None:
    text = HOSTILE[name] + "\nreach me at jane.doe@example.org, SSN 078-05-1121"
    findings = scan(text, extra_terms=["Jane Doe", "room 412"])
    *_, email, ssn = findings
    assert (email.kind, text[email.start : email.end]) == ("email", "jane.doe@example.org")
    assert (ssn.kind, text[ssn.start : ssn.end]) == ("ssn", "078-05-1121")
    assert email.line == ssn.line == text.count("\n") + 1


def test_a_padded_identifier_is_found_and_its_excerpt_stays_short_and_visible() -> None:
    for pad in (ZWSP, "\u0301", "\u202e"):
        text = "SSN 1" + pad * 50_000 + "23-45-6789 end"
        [finding] = scan(text)
        assert finding.kind == "ssn" and text[finding.start : finding.end].endswith("6789")
        assert finding.excerpt == f"SSN {MASK * 3}-{MASK * 2}-{MASK * 2}89 end"
    [finding] = scan("x " * 10 + "Jane" + ZWSP * 500 + " Doe", extra_terms=["Jane Doe"])
    assert len(finding.excerpt) <= 120 and ZWSP not in finding.excerpt


def test_phone_region_settings_are_read_checked_and_passed_on(tmp_path: Path) -> None:
    settings = config.load(tmp_path, {"CANDOR_PHONE_REGION": " gb ", "CANDOR_PHONE_REGIONS": "none"})
    assert (settings["PHONE_REGION"], settings["PHONE_REGIONS"]) == ("GB", [])
    defaults = config.load(tmp_path, {})
    assert (defaults["PHONE_REGION"], defaults["PHONE_REGIONS"]) == ("US", list(phones.DEFAULT_OTHER_REGIONS))
    for env in (
        {"CANDOR_PHONE_REGION": "XX"},
        {"CANDOR_PHONE_REGION": "US,GB"},
        {"CANDOR_PHONE_REGIONS": "GB,ZZ"},
    ):
        with pytest.raises(config.ConfigError):
            config.load(tmp_path, env)
    gate = GateSettings.from_config({**settings, "CANDOR_COI_MAX_AGE_DAYS": 365})
    comments = PipelineSettings.from_config(settings)
    for where in (gate, comments):
        assert (where.phone_region, list(where.phone_regions)) == ("GB", [])
