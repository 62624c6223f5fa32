"""Date shifting, age bands, Clean Descriptors vocabulary and the free-text PHI scanner."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datasets.deid.dates import age_band, shift_da, shift_dt, shift_fhir_date
from datasets.deid.descriptors import clean_descriptor
from datasets.deid.freetext import _ASCII_LOOKALIKES, PHI_PATTERNS, REDACTED, FreeTextScanner


@settings(max_examples=100, deadline=None)
@given(st.dates(min_value=date(1900, 2, 1), max_value=date(2099, 12, 31)), st.integers(-365, -1))
def test_da_and_fhir_date_shift_match_calendar_arithmetic(d, days):
    want = d + timedelta(days=days)
    assert shift_da(d.strftime("%Y%m%d"), days) == want.strftime("%Y%m%d")
    assert shift_fhir_date(d.isoformat(), days) == want.isoformat()


@settings(max_examples=100, deadline=None)
@given(st.datetimes(min_value=datetime(1901, 1, 1), max_value=datetime(2099, 1, 1)), st.integers(-365, -1),
       st.sampled_from(["", "+0800", "-0500"]))
def test_dt_shift_keeps_time_and_zone(t, days, zone):
    text = t.strftime("%Y%m%d%H%M%S") + zone
    want = (t + timedelta(days=days)).strftime("%Y%m%d%H%M%S") + zone
    assert shift_dt(text, days) == want


@pytest.mark.parametrize(
    ("value", "days", "expected"),
    [
        ("20240301", -1, "20240229"),  # leap day
        ("20230301", -1, "20230228"),
        ("20200101-20200131", -10, "20191222-20200121"),  # DA range
        ("2020.01.05", -5, "20191231"),  # ACR-NEMA form
        ("2020013", -1, None),
        ("20201301", -1, None),
        ("", -1, None),
    ],
)
def test_da_edge_cases(value, days, expected):
    assert shift_da(value, days) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("2020", "2019"), ("202003", "202002"), ("20200301", "20200130"), ("2020+0100", "2019+0100"),
     ("20200301xx", None), ("abcd", None)],
)
def test_dt_partial_precision(value, expected):
    assert shift_dt(value, -200 if len(value) == 4 or value.startswith("2020+") else -31) == expected


def test_fhir_instants_and_bad_values():
    assert shift_fhir_date("2019-03-01T00:00:00.123Z", -1) == "2019-02-28T00:00:00.123Z"
    assert shift_fhir_date("2019-02-30", -1) is None
    assert shift_fhir_date("yesterday", -1) is None


def test_age_bands():
    bands = (0, 18, 30, 40, 50, 60, 70, 80, 90)
    assert [age_band(a, bands) for a in (0, 17, 18, 29, 45, 89, 90, 104)] == [
        "0-17", "0-17", "18-29", "18-29", "40-49", "80-89", "90+", "90+"]
    assert age_band(None, bands) == age_band(-1, bands) == "unknown"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("CT CHEST W/O CONTRAST", "CT CHEST W/O CONTRAST"),
        ("MR BRAIN for Smith John 1970-01-02 MRN 12345678", "MR BRAIN for"),
        ("Thorax^1HRCT_Routine (Adult)", "Thorax Routine"),
        ("AX T2 FLAIR 5mm", "AX T2 FLAIR 5mm"),
        ("张三 头部 CT", "CT"),
        ("Dr. Müller's research protocol", "protocol"),
        ("ACC20230415-77", ""),
    ],
)
def test_clean_descriptors_keeps_only_vocabulary(text, expected):
    assert clean_descriptor(text) == expected
    assert clean_descriptor(clean_descriptor(text)) == clean_descriptor(text)


@pytest.mark.parametrize(
    ("text", "secret"),
    [("call 555-788-5466", "5466"), ("call (010) 6512-3456", "6512"), ("mail a.b@hospital.example.org", "hospital"),
     ("SSN 999-35-5722", "5722"), ("ID 110105196108091234", "1961"), ("ID 11010519610809123X", "1961"),
     ("licence S99927625", "9992"), ("MRN 0012345678", "2345")],
)
def test_scanner_patterns(text, secret):
    out = FreeTextScanner().clean(text)
    assert REDACTED in out and secret not in out
    assert out.split()[0] == text.split()[0]  # the surrounding words stay


def test_scanner_tokens_case_insensitive_whole_words_and_cjk():
    s = FreeTextScanner(["Stamm704", "Todd315", "Ann", "王小明", "Li"])
    assert s.clean("todd315 STAMM704 seen") == f"{REDACTED} {REDACTED} seen"
    assert s.clean("Annual review by Ann") == f"Annual review by {REDACTED}"
    assert s.clean("患者王小明复诊") == f"患者{REDACTED}复诊"
    assert s.clean("Lithium level") == "Lithium level"  # 2-letter ASCII tokens ignored
    assert s.clean("Creatinine 1.2 mg/dL on 2019-03-01") == "Creatinine 1.2 mg/dL on 2019-03-01"


_PHI_ONLY = re.compile("|".join(PHI_PATTERNS), re.IGNORECASE)  # a scanner without tokens: the patterns alone


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.one_of(st.sampled_from("ab Z.-+()@\n"), st.characters(categories=["Nd"])), max_size=30))
def test_scanner_fast_path_never_skips_a_phi_pattern(text):
    """The scanner's shortcut (no digit and no '@': nothing to redact) holds for digits of every script, which
    the patterns' \\d matches: e.g. an ID written in Arabic-Indic or full-width digits is redacted too."""
    assert FreeTextScanner().clean(text) == _PHI_ONLY.sub(REDACTED, text)


def test_scanner_redacts_digit_runs_of_other_scripts():
    assert FreeTextScanner().clean("\u0663" * 9) == REDACTED
    assert FreeTextScanner().clean("id \uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18") == f"id {REDACTED}"


def _reference_scanner(tokens: list[str]) -> re.Pattern:
    """The scanner's definition, rebuilt here: whole-word ASCII tokens (others anywhere), longest first, then the
    PHI patterns, case-insensitive."""
    toks = sorted({t.strip() for t in tokens if len(t.strip()) >= (3 if t.strip().isascii() else 2)},
                  key=len, reverse=True)
    parts = [rf"(?<!\w){re.escape(t)}(?!\w)" if t.isascii() else re.escape(t) for t in toks]
    return re.compile("|".join(parts + list(PHI_PATTERNS)), re.IGNORECASE)


_words = st.sampled_from(["Stamm", "todd315", "ſtamm", "STAMM704", "Jo", "Zoë", "K\u212aa", "ıan", "555", "12",
                          "4", "-", "@", ".", " ", "\u0663\u0663\u0663", "MG", "x7", "(", ")"])


@settings(max_examples=100, deadline=None)
@given(st.lists(_words, max_size=12).map(lambda ws: "".join(ws) + " 7"), st.lists(st.sampled_from(
    ["Stamm", "Todd315", "Jo", "Zoë", "Kian", "stamm704", "Müller", "555-788", "\u017ftamm", "K\u0131an",
     "Res\u00e9ndez908", "\u0130an", "\u212aian\u00e9"]), max_size=4))
def test_scanner_with_digits_equals_its_definition(text, tokens):
    """A text with a digit that no pattern can use is returned unchanged only when that is what the whole
    pattern gives, for ASCII and other tokens and texts (long s, dotless i, Kelvin sign: case-insensitive
    matches that are not lower-case substrings, so such text goes through the pattern)."""
    assert FreeTextScanner(tokens).clean(text) == _reference_scanner(tokens).sub(REDACTED, text)


def test_scanner_digit_shortcut_examples():
    s = FreeTextScanner(["Stamm", "Todd"])
    assert s.clean("Naproxen sodium 22 MG") == "Naproxen sodium 22 MG"
    assert s.clean("todd took 2 tablets") == f"{REDACTED} took 2 tablets"
    assert s.clean("\u017ftamm took 2") == f"{REDACTED} took 2"  # long s: not a lower-case substring
    assert s.clean("call 555-788-5466 or 4 a@b.org") == f"call {REDACTED} or 4 {REDACTED}"
    # the shortest shapes of each pattern: three digits in a row at most
    for phi in ("12 345 678", "(12)345 678", "123-45-6789", "a@b.co", "AB123456", "1234567"):
        assert s.clean(f"x {phi} y") == f"x {REDACTED} y", phi


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(PHI_PATTERNS).flatmap(lambda p: st.from_regex(p, fullmatch=True)),
       st.sampled_from(["", "call ", "id: "]), st.sampled_from(["", " today", "."]))
def test_scanner_redacts_every_pattern_shape(phi, before, after):
    text = before + phi + after
    assert FreeTextScanner().clean(text) == _PHI_ONLY.sub(REDACTED, text)


def test_only_four_non_ascii_characters_match_ascii_case_insensitively():
    """The scanner's ASCII shortcut relies on this fact of ``re`` (case-insensitive matching is symmetric)."""
    import string

    every = "".join(chr(c) for c in range(0x80, 0x110000) if not 0xD800 <= c < 0xE000)
    found = set()
    for a in string.printable:
        found |= set(re.compile(re.escape(a), re.IGNORECASE).findall(every))
    assert found == set(_ASCII_LOOKALIKES)
    for c in _ASCII_LOOKALIKES:  # and from the other side
        assert re.compile(re.escape(c), re.IGNORECASE).search(string.ascii_letters)


def test_scanner_accented_tokens_and_ascii_text():
    s = FreeTextScanner(["Res\u00e9ndez908", "Stamm"])
    assert s.clean("Body mass index 30+ - obesity (finding)") == "Body mass index 30+ - obesity (finding)"
    assert s.clean("Res\u00e9ndez908 took 2") == f"{REDACTED} took 2"
    assert FreeTextScanner(["\u017ftamm"]).clean("stamm took 2") == f"{REDACTED} took 2"


_nodigit_words = st.sampled_from(["Stamm", "stamm", "\u017ftamm", "STAMM", "\u212aian", "kian", "\u0130an", "ian",
                                  "\u0131an", "\u03a3\u03bf\u03c6\u03af\u03b1", "\u03c3\u03bf\u03c6\u03af\u03b1\u03c2",
                                  "\u03c3\u03bf\u03c6\u03af\u03b1\u03c3", "\u738b\u5c0f\u660e", "Zo\u00eb", "ZO\u00cb",
                                  "Stra\u00dfe", "STRASSE", " ", "-", ".", "x"])


@settings(max_examples=100, deadline=None)
@given(st.lists(_nodigit_words, max_size=10).map("".join), st.lists(st.sampled_from(
    ["Stamm", "\u017ftamm", "Kian", "\u212aian", "Ian", "\u0130an", "\u0131an", "\u03a3\u03bf\u03c6\u03af\u03b1\u03c2",
     "\u03c3\u03bf\u03c6\u03af\u03b1", "\u738b\u5c0f\u660e", "Zo\u00eb", "Stra\u00dfe"]), max_size=4))
def test_scanner_without_digits_equals_its_definition(text, tokens):
    """Text with no digit and no '@' (no PHI pattern applies) keeps only what the whole pattern keeps: tokens
    are found by case-insensitive matching as re does it, not only as lower-case substrings (a long s, a Kelvin
    sign, a dotted or dotless i, a Greek final sigma are matched too)."""
    assert FreeTextScanner(tokens).clean(text) == _reference_scanner(tokens).sub(REDACTED, text)


def test_scanner_without_digits_examples():
    assert FreeTextScanner(["Stamm"]).clean("seen by \u017ftamm") == f"seen by {REDACTED}"
    assert FreeTextScanner(["Kian"]).clean("seen by \u212aian") == f"seen by {REDACTED}"
    sofia = "\u03a3\u03bf\u03c6\u03af\u03b1\u03c2"  # a token with a final sigma, written with a plain sigma
    assert FreeTextScanner([sofia]).clean("\u03c3\u03bf\u03c6\u03af\u03b1\u03c3 \u03b5\u03b4\u03ce") == (
        f"{REDACTED} \u03b5\u03b4\u03ce")
    assert FreeTextScanner(["Stamm"]).clean("Body mass index") == "Body mass index"
